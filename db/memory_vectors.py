"""Vectors of runbook sections and of past incidents: one table per embedding model, as for
templates (db/embeddings.py), named after the model's id in embedding_models:
`runbook_embeddings_<n>` keyed by (runbook_id, section), `incident_embeddings_<n>` keyed by
incident_id. Each row keeps the content hash it was embedded from, so a re-ingest embeds only
what changed. kNN is `ORDER BY VEC_DISTANCE_COSINE(embedding, ?) LIMIT k` (the HNSW index)."""
from __future__ import annotations

from db import embeddings
from db.pool import Database

# a vector index wants a primary key of at most 256 bytes: runbook rows get a surrogate one
_KEYS = {"runbook": ("id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, runbook_id VARCHAR(128) CHARACTER SET ascii NOT NULL,"
                     " section VARCHAR(128) CHARACTER SET ascii NOT NULL, content_hash CHAR(64) NOT NULL,",
                     "PRIMARY KEY (id), UNIQUE KEY uq_section (runbook_id, section)"),
         "incident": ("incident_id BIGINT UNSIGNED NOT NULL, content_hash CHAR(64) NOT NULL,",
                      "PRIMARY KEY (incident_id)")}


def _model_id(db: Database, name: str, dim: int) -> int:
    embeddings.ensure_model(db, name, dim)
    return int(db.fetchone("SELECT id FROM embedding_models WHERE name = ? AND dim = ?", (name, dim))[0])


def ensure(db: Database, kind: str, name: str, dim: int) -> str:
    """The `kind` (runbook | incident) vectors table for this model, created on first use."""
    columns, key = _KEYS[kind]
    table = f"{kind}_embeddings_{_model_id(db, name, dim)}"
    with db.transaction() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS `{table}` ({columns}"
                    f" embedding VECTOR({int(dim)}) NOT NULL,"
                    " embedded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
                    f" {key}, VECTOR INDEX (embedding) M=16 DISTANCE=cosine) ENGINE=InnoDB")
    return table


def existing(db: Database, kind: str, name: str, dim: int) -> str | None:
    """The table if it exists (a reader on the read-only pool never creates one)."""
    row = db.fetchone("SELECT id FROM embedding_models WHERE name = ? AND dim = ?", (name, dim))
    if not row:
        return None
    table = f"{kind}_embeddings_{int(row[0])}"
    found = db.fetchone("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name = ?", (table,))
    return table if found and found[0] else None


def knn(db: Database, table: str, vector: bytes, k: int) -> list[tuple]:
    """(key..., cosine distance) of the k nearest rows."""
    keys = "runbook_id, section" if table.startswith("runbook_") else "incident_id"
    with db.connection() as conn:
        cur = conn.cursor()
        try:
            cur.execute("SET SESSION mhnsw_ef_search = ?", (max(40, k),))
            cur.execute(f"SELECT {keys}, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` "
                        "ORDER BY VEC_DISTANCE_COSINE(embedding, ?) LIMIT ?", (vector, vector, k))
            rows = cur.fetchall()
            conn.commit()
        finally:
            cur.close()
    return [(*r[:-1], float(r[-1])) for r in rows]


def hashes(db: Database, table: str) -> dict[tuple, str]:
    """key -> the content hash each stored vector was made from."""
    if table.startswith("runbook_"):
        return {(a, b): h for a, b, h in db.fetchall(f"SELECT runbook_id, section, content_hash FROM `{table}`")}
    return {(a,): h for a, h in db.fetchall(f"SELECT incident_id, content_hash FROM `{table}`")}


def store(cur, table: str, rows: list[tuple]) -> None:
    """rows: (key..., content_hash, float32 bytes); replaces what the key held."""
    if not rows:
        return
    columns = "runbook_id, section" if table.startswith("runbook_") else "incident_id"
    width = len(rows[0])
    cur.execute(f"INSERT INTO `{table}` ({columns}, content_hash, embedding) VALUES "
                + ", ".join(["(" + ", ".join("?" * width) + ")"] * len(rows))
                + " ON DUPLICATE KEY UPDATE content_hash = VALUES(content_hash), embedding = VALUES(embedding),"
                  " embedded_at = NOW(6)", [v for row in rows for v in row])


def delete_runbook_sections(cur, table: str, keys: list[tuple[str, str]]) -> None:
    for runbook_id, section in keys:
        cur.execute(f"DELETE FROM `{table}` WHERE runbook_id = ? AND section = ?", (runbook_id, section))


def similarity(db: Database, table: str, vector: bytes, keys: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Cosine similarity of the query to given runbook sections (a few dozen; no index needed)."""
    if not keys:
        return {}
    where = " OR ".join(["(runbook_id = ? AND section = ?)"] * len(keys))
    rows = db.fetchall(f"SELECT runbook_id, section, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` WHERE {where}",
                       [vector, *[v for k in keys for v in k]])
    return {(r, s): 1.0 - float(d) for r, s, d in rows}


def incident_similarity(db: Database, table: str, vector: bytes, incident_ids: list[int]) -> dict[int, float]:
    """Cosine similarity of the query to these incidents' vectors (at most a few hundred)."""
    if not incident_ids:
        return {}
    rows = db.fetchall(f"SELECT incident_id, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` WHERE incident_id IN ("
                       + ", ".join("?" * len(incident_ids)) + ")", [vector, *incident_ids])
    return {int(i): 1.0 - float(d) for i, d in rows}
