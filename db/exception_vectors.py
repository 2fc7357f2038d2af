"""SQL for the semantic fingerprint of exception clusters: one vector per cluster and
embedding model in `exception_embeddings_<n>` (n = the model's id in embedding_models, as
template and code vectors are), with a cosine VECTOR INDEX, for near-duplicate clusters
that the static fingerprint keeps apart (another path, a renamed function)."""
from __future__ import annotations

from db import embeddings
from db.pool import Database


def vectors_table(db: Database, name: str, dim: int, create: bool = True) -> str | None:
    """`exception_embeddings_<n>` for this model; created on first use unless `create` is False."""
    return embeddings.side_table(db, "exception_embeddings", "cluster_id", name, dim, create,
                                 " embedded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),")


def unembedded(db: Database, table: str, limit: int = 256) -> list[tuple[int, str, str, int]]:
    """(cluster id, exception type, message template, representative event id) with no vector yet."""
    return db.fetchall(f"SELECT c.id, c.exception_type, c.message_template, c.representative_event_id "
                       f"FROM exception_clusters c LEFT JOIN `{table}` e ON e.cluster_id = c.id "
                       "WHERE e.cluster_id IS NULL ORDER BY c.id LIMIT ?", (limit,))


def top_frames(db: Database, event_ids: list[int], n: int = 5) -> dict[int, list[tuple[str, str, bool]]]:
    """event id -> its first frames (module, function, in_app), by section then innermost first."""
    if not event_ids:
        return {}
    rows = db.fetchall("SELECT event_id, module, function, in_app FROM exception_frames WHERE event_id IN ("
                       + ", ".join("?" * len(event_ids)) + ") ORDER BY event_id, section DESC, position",
                       list(event_ids))
    out: dict[int, list[tuple[str, str, bool]]] = {}
    for event_id, module, function, in_app in rows:
        frames = out.setdefault(event_id, [])
        if len(frames) < n * 4:
            frames.append((module, function, bool(in_app)))
    return out


def store(db: Database, table: str, rows: list[tuple[int, bytes]]) -> None:
    """rows: (cluster id, little-endian float32 bytes)."""
    if rows:
        with db.transaction() as cur:
            cur.executemany(f"INSERT INTO `{table}` (cluster_id, embedding) VALUES (?, ?) "
                            "ON DUPLICATE KEY UPDATE embedding = VALUES(embedding), embedded_at = NOW(6)", rows)


def near(db: Database, table: str, cluster_id: int, k: int = 5, max_distance: float = 0.35) -> list[tuple[int, float]]:
    """(cluster id, cosine distance) of the clusters nearest to this one's vector, itself excluded."""
    row = db.fetchone(f"SELECT embedding FROM `{table}` WHERE cluster_id = ?", (cluster_id,))
    if row is None:
        return []
    rows = db.fetchall(f"SELECT cluster_id, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` "
                       "ORDER BY VEC_DISTANCE_COSINE(embedding, ?) LIMIT ?", (row[0], row[0], k + 1))
    return [(int(c), float(d)) for c, d in rows if int(c) != cluster_id and float(d) <= max_distance]
