"""SQL for template vectors: one table per embedding model, registered in embedding_models.

A VECTOR column has one dimension, so each (model, dim) gets `template_embeddings_<n>`
with a cosine VECTOR INDEX. kNN uses `ORDER BY VEC_DISTANCE_COSINE(embedding, ?) LIMIT k`,
the one shape MariaDB serves from the HNSW index.
"""
from __future__ import annotations

from db.pool import Database


def ensure_model(db: Database, name: str, dim: int) -> str:
    """The vectors table for this model, created on first use."""
    row = db.fetchone("SELECT table_name FROM embedding_models WHERE name = ? AND dim = ?", (name, dim))
    if row:
        return row[0]
    with db.transaction() as cur:
        cur.execute("INSERT IGNORE INTO embedding_models (name, dim, table_name) VALUES (?, ?, UUID())",
                    (name, dim))
        cur.execute("SELECT id FROM embedding_models WHERE name = ? AND dim = ?", (name, dim))
        model_id = cur.fetchone()[0]
        table = f"template_embeddings_{int(model_id)}"
        cur.execute("UPDATE embedding_models SET table_name = ? WHERE id = ?", (table, model_id))
    with db.transaction() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS `{table}` ("
                    " template_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
                    f" embedding VECTOR({int(dim)}) NOT NULL,"
                    " embedded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
                    " VECTOR INDEX (embedding) M=16 DISTANCE=cosine"
                    ") ENGINE=InnoDB")
    return table


def side_table(db: Database, prefix: str, key: str, name: str, dim: int, create: bool = True,
               extra: str = "") -> str | None:
    """`<prefix>_<model id>`: vectors of other things than templates (code symbols, exception
    clusters) for this embedding model, keyed by `key`; created on first use unless `create`
    is False (then None when it does not exist yet). `extra`: more column definitions."""
    if create:
        ensure_model(db, name, dim)
    row = db.fetchone("SELECT id FROM embedding_models WHERE name = ? AND dim = ?", (name, dim))
    if not row:
        return None
    table = f"{prefix}_{int(row[0])}"
    if create:
        with db.transaction() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS `{table}` ({key} BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
                        f" embedding VECTOR({int(dim)}) NOT NULL,{extra}"
                        " VECTOR INDEX (embedding) M=16 DISTANCE=cosine) ENGINE=InnoDB")
        return table
    found = db.fetchone("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name = ?", (table,))
    return table if found and found[0] else None


def models(db: Database) -> list[dict]:
    rows = db.fetchall("SELECT name, dim, table_name FROM embedding_models ORDER BY id")
    return [{"name": n, "dim": d, "table": t} for n, d, t in rows]


def missing(db: Database, table: str, limit: int, after_id: int = 0) -> list[tuple[int, str]]:
    """Templates with no vector in `table`, in id order after `after_id` (resumable)."""
    return db.fetchall(f"SELECT t.id, t.template FROM log_templates t LEFT JOIN `{table}` e "
                       "ON e.template_id = t.id WHERE e.template_id IS NULL AND t.id > ? "
                       "AND NOT EXISTS (SELECT 1 FROM template_merges m WHERE m.from_id = t.id) "
                       "ORDER BY t.id LIMIT ?", (after_id, limit))


def count_missing(db: Database, table: str) -> int:
    return db.fetchone(f"SELECT COUNT(*) FROM log_templates t LEFT JOIN `{table}` e "
                       "ON e.template_id = t.id WHERE e.template_id IS NULL "
                       "AND NOT EXISTS (SELECT 1 FROM template_merges m WHERE m.from_id = t.id)")[0]


def store(db: Database, table: str, rows: list[tuple[int, bytes]]) -> None:
    """rows: (template_id, little-endian float32 bytes). Re-embedding replaces."""
    if not rows:
        return
    with db.transaction() as cur:
        cur.execute(f"INSERT INTO `{table}` (template_id, embedding) VALUES "
                    + ", ".join(["(?, ?)"] * len(rows))
                    + " ON DUPLICATE KEY UPDATE embedding = VALUES(embedding), embedded_at = NOW(6)",
                    [v for row in rows for v in row])


def knn(db: Database, table: str, vector: bytes, k: int, ef_search: int = 40,
        exact: bool = False) -> list[tuple[int, float]]:
    """(template_id, cosine distance) of the k nearest. `exact` scans (for recall checks)."""
    order = "VEC_DISTANCE_COSINE(embedding, ?) + 0" if exact else "VEC_DISTANCE_COSINE(embedding, ?)"
    with db.connection() as conn:
        cur = conn.cursor()
        try:
            cur.execute("SET SESSION mhnsw_ef_search = ?", (max(ef_search, k),))
            cur.execute(f"SELECT template_id, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` "
                        f"ORDER BY {order} LIMIT ?", (vector, vector, k))
            rows = cur.fetchall()
            conn.commit()
        finally:
            cur.close()
    return [(r[0], float(r[1])) for r in rows]


def similarity(db: Database, table: str, vector: bytes, template_ids: list[int]) -> dict[int, float]:
    """Cosine similarity of the query to specific templates (a few hundred; no index needed)."""
    if not template_ids:
        return {}
    rows = db.fetchall(f"SELECT template_id, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` "
                       f"WHERE template_id IN ({', '.join('?' * len(template_ids))})", [vector, *template_ids])
    return {r[0]: 1.0 - float(r[1]) for r in rows}
