"""SQL of the code index: versions of a service, file contents by hash, paths per version,
symbols per content hash, and the symbol vectors (one `code_embeddings_<n>` table per
embedding model, as for templates). See db/migrations/0012_code_index.sql."""
from __future__ import annotations

import json

from db import embeddings
from db.pool import Database


def version_row(db: Database, service: str, version: str) -> tuple[int, str] | None:
    row = db.fetchone("SELECT id, version FROM code_versions WHERE service = ? AND version = ?", (service, version))
    return (int(row[0]), row[1]) if row else None


def ensure_version(db: Database, service: str, version: str, root: str) -> int:
    with db.transaction() as cur:
        cur.execute("INSERT IGNORE INTO code_versions (service, version, root) VALUES (?, ?, ?)",
                    (service, version, root[:1024]))
    return version_row(db, service, version)[0]


def touch_version(cur, version_id: int) -> None:
    cur.execute("UPDATE code_versions SET indexed_at = NOW(6) WHERE id = ?", (version_id,))


def versions(db: Database, service: str | None = None) -> list[dict]:
    """Indexed versions, newest first (by when they were indexed)."""
    where, args = ("WHERE v.service = ?", (service,)) if service else ("", ())
    rows = db.fetchall("SELECT v.id, v.service, v.version, v.root, v.indexed_at, "
                       "(SELECT COUNT(*) FROM code_files f WHERE f.version_id = v.id) "
                       f"FROM code_versions v {where} ORDER BY v.indexed_at DESC, v.id DESC", args)
    return [{"id": int(i), "service": s, "version": v, "root": r, "indexed_at": t.isoformat(), "files": int(n)}
            for i, s, v, r, t, n in rows]


def version_by_prefix(db: Database, service: str, prefix: str) -> tuple[int, str] | None:
    """A commit logged short (or long) against an indexed one: the unique version it starts."""
    rows = db.fetchall("SELECT id, version FROM code_versions WHERE service = ? AND "
                       "(version LIKE CONCAT(?, '%') OR ? LIKE CONCAT(version, '%')) LIMIT 2",
                       (service, prefix.replace("%", "").replace("_", "\\_"), prefix))
    return (int(rows[0][0]), rows[0][1]) if len(rows) == 1 else None


def files(db: Database, version_id: int) -> dict[str, str]:
    """path -> content hash at this version."""
    return dict(db.fetchall("SELECT path, content_hash FROM code_files WHERE version_id = ?", (version_id,)))


def known_blobs(db: Database, hashes: list[str]) -> set[str]:
    if not hashes:
        return set()
    rows = db.fetchall("SELECT content_hash FROM code_blobs WHERE content_hash IN ("
                       + ", ".join("?" * len(hashes)) + ")", hashes)
    return {r[0] for r in rows}


def store_blob(cur, content_hash: str, language: str, content: str, symbols: list) -> None:
    """A file's text and its symbols (ingest.code_parse.Symbol), once per content hash."""
    cur.execute("INSERT IGNORE INTO code_blobs (content_hash, language, content) VALUES (?, ?, ?)",
                (content_hash, language, content))
    if symbols:
        cur.executemany("INSERT IGNORE INTO code_symbols (content_hash, qualname, kind, start_line, end_line,"
                        " signature, docstring, calls_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(content_hash, s.qualname[:512], s.kind, s.start_line, s.end_line, s.signature,
                          s.docstring, json.dumps(list(s.calls))) for s in symbols])


def set_files(cur, version_id: int, rows: list[tuple[str, str]]) -> None:
    if rows:
        cur.executemany("INSERT INTO code_files (version_id, path, content_hash) VALUES (?, ?, ?) "
                        "ON DUPLICATE KEY UPDATE content_hash = VALUES(content_hash)",
                        [(version_id, p, h) for p, h in rows])


def delete_files(cur, version_id: int, paths: list[str]) -> None:
    for path in paths:
        cur.execute("DELETE FROM code_files WHERE version_id = ? AND path = ?", (version_id, path))


def file_content(db: Database, version_id: int, path: str) -> tuple[str, str] | None:
    """(content, language) of an indexed path at a version; None when it was not indexed."""
    row = db.fetchone("SELECT b.content, b.language FROM code_files f JOIN code_blobs b "
                      "ON b.content_hash = f.content_hash WHERE f.version_id = ? AND f.path = ?", (version_id, path))
    return (row[0], row[1]) if row else None


_SYMBOL = ("s.id, f.path, s.qualname, s.kind, s.start_line, s.end_line, s.signature, s.docstring, s.calls_json")


def _symbol(row) -> dict:
    i, path, qualname, kind, start, end, signature, doc, calls = row
    return {"id": int(i), "path": path, "qualname": qualname, "kind": kind, "start_line": int(start),
            "end_line": int(end), "signature": signature, "docstring": doc, "calls": json.loads(calls)}


def symbols(db: Database, version_id: int, paths: list[str] | None = None) -> list[dict]:
    """The symbols of a version (of some paths only), by path then line."""
    where, args = "", [version_id]
    if paths is not None:
        if not paths:
            return []
        where = " AND f.path IN (" + ", ".join("?" * len(paths)) + ")"
        args += paths
    rows = db.fetchall(f"SELECT {_SYMBOL} FROM code_files f JOIN code_symbols s ON s.content_hash = f.content_hash "
                       f"WHERE f.version_id = ?{where} ORDER BY f.path, s.start_line, s.id", args)
    return [_symbol(r) for r in rows]


def count_symbols(db: Database, version_id: int) -> int:
    return int(db.fetchone("SELECT COUNT(*) FROM code_files f JOIN code_symbols s ON s.content_hash = f.content_hash "
                           "WHERE f.version_id = ?", (version_id,))[0])


# --------------------------------------------------------------------------- vectors


def vectors_table(db: Database, name: str, dim: int, create: bool = True) -> str | None:
    """`code_embeddings_<n>` for this model; created on first use unless `create` is False."""
    return embeddings.side_table(db, "code_embeddings", "symbol_id", name, dim, create)


def unembedded(db: Database, table: str, version_id: int) -> list[tuple[int, str, int, int, str]]:
    """(symbol id, path, start, end, content hash) of this version's symbols with no vector yet."""
    return db.fetchall(f"SELECT s.id, f.path, s.start_line, s.end_line, s.content_hash FROM code_files f "
                       f"JOIN code_symbols s ON s.content_hash = f.content_hash LEFT JOIN `{table}` e "
                       "ON e.symbol_id = s.id WHERE f.version_id = ? AND e.symbol_id IS NULL ORDER BY s.id",
                       (version_id,))


def blob_text(db: Database, content_hash: str) -> str:
    return db.fetchone("SELECT content FROM code_blobs WHERE content_hash = ?", (content_hash,))[0]


def store_vectors(db: Database, table: str, rows: list[tuple[int, bytes]]) -> None:
    if rows:
        with db.transaction() as cur:
            cur.executemany(f"INSERT IGNORE INTO `{table}` (symbol_id, embedding) VALUES (?, ?)", rows)


def similarity(db: Database, table: str, vector: bytes, symbol_ids: list[int]) -> dict[int, float]:
    """Cosine similarity of a query to given symbols (a version's, a few thousand at most)."""
    if not symbol_ids:
        return {}
    rows = db.fetchall(f"SELECT symbol_id, VEC_DISTANCE_COSINE(embedding, ?) FROM `{table}` WHERE symbol_id IN ("
                       + ", ".join("?" * len(symbol_ids)) + ")", [vector, *symbol_ids])
    return {int(i): 1.0 - float(d) for i, d in rows}


# --------------------------------------------------------------------------- RCA cache


def cached_rca(db: Database, cluster_id: int, version: str) -> dict | None:
    row = db.fetchone("SELECT rca_json, written_by, created_at FROM rca_results WHERE cluster_id = ? AND version = ?",
                      (cluster_id, version))
    if not row:
        return None
    return {**json.loads(row[0]), "written_by": row[1], "cached_at": row[2].isoformat()}


def kept_rcas(db: Database, cluster_id: int) -> list[dict]:
    """Every RCA kept for a cluster, one per version, newest first (for GET /clusters/{id})."""
    rows = db.fetchall("SELECT version, rca_json, written_by, created_at FROM rca_results WHERE cluster_id = ? "
                       "ORDER BY created_at DESC", (cluster_id,))
    return [{**json.loads(r), "version": v, "written_by": w, "cached_at": t.isoformat()} for v, r, w, t in rows]


def store_rca(db: Database, cluster_id: int, version: str, rca: dict, written_by: str) -> None:
    with db.transaction() as cur:
        cur.execute("INSERT INTO rca_results (cluster_id, version, rca_json, written_by) VALUES (?, ?, ?, ?) "
                    "ON DUPLICATE KEY UPDATE rca_json = VALUES(rca_json), written_by = VALUES(written_by), "
                    "created_at = NOW(6)", (cluster_id, version, json.dumps(rca), written_by))
