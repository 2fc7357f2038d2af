"""SQL for runbook documents and their sections (versioned by content hash; what left the
directory is marked gone, never deleted, so an old citation still resolves)."""
from __future__ import annotations

import json
from datetime import datetime

from db.pool import Database

_DOC = "id, title, path, format, content_hash, meta_json, version, ingested_at, gone_at"


def _doc(row: tuple) -> dict:
    return {"id": row[0], "title": row[1], "path": row[2], "format": row[3], "content_hash": row[4],
            "meta": json.loads(row[5]), "version": row[6], "ingested_at": row[7].isoformat() + "Z",
            "gone_at": row[8].isoformat() + "Z" if row[8] else None}


def documents(db: Database, include_gone: bool = False) -> list[dict]:
    where = "" if include_gone else " WHERE gone_at IS NULL"
    docs = [_doc(r) for r in db.fetchall(f"SELECT {_DOC} FROM runbook_documents{where} ORDER BY id")]
    counts = dict(db.fetchall("SELECT runbook_id, COUNT(*) FROM runbook_sections WHERE gone_at IS NULL "
                              "GROUP BY runbook_id"))
    for d in docs:
        d["sections"] = int(counts.get(d["id"], 0))
    return docs


def document(db: Database, runbook_id: str) -> dict | None:
    row = db.fetchone(f"SELECT {_DOC} FROM runbook_documents WHERE id = ?", (runbook_id,))
    if not row:
        return None
    doc = _doc(row)
    doc["sections"] = [{"section": s, "position": p, "heading": h, "body": b, "version": v,
                        "content_hash": c, "gone_at": g.isoformat() + "Z" if g else None}
                       for s, p, h, b, v, c, g in db.fetchall(
                           "SELECT section, position, heading, body, version, content_hash, gone_at "
                           "FROM runbook_sections WHERE runbook_id = ? ORDER BY gone_at IS NOT NULL, position",
                           (runbook_id,))]
    return doc


def stored(db: Database) -> tuple[dict[str, tuple[str, bool]], dict[tuple[str, str], tuple[str, bool]]]:
    """(document id -> (content hash, gone?)), ((id, section) -> (content hash, gone?))."""
    docs = {i: (h, g is not None) for i, h, g in db.fetchall("SELECT id, content_hash, gone_at FROM runbook_documents")}
    sections = {(i, s): (h, g is not None) for i, s, h, g in db.fetchall(
        "SELECT runbook_id, section, content_hash, gone_at FROM runbook_sections")}
    return docs, sections


def upsert_document(cur, doc: dict) -> None:
    """A new or changed file (or one that came back): its version moves on."""
    cur.execute("INSERT INTO runbook_documents (id, title, path, format, content_hash, meta_json) "
                "VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE title = VALUES(title), path = VALUES(path), "
                "format = VALUES(format), meta_json = VALUES(meta_json), version = version + 1, "
                "content_hash = VALUES(content_hash), ingested_at = NOW(6), gone_at = NULL",
                (doc["id"], doc["title"], doc["path"], doc["format"], doc["content_hash"], json.dumps(doc["meta"])))


def upsert_section(cur, runbook_id: str, section: dict) -> None:
    cur.execute("INSERT INTO runbook_sections (runbook_id, section, position, heading, body, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE position = VALUES(position), "
                "heading = VALUES(heading), body = VALUES(body), version = version + 1, "
                "content_hash = VALUES(content_hash), updated_at = NOW(6), gone_at = NULL",
                (runbook_id, section["section"], section["position"], section["heading"], section["body"],
                 section["content_hash"]))


def move_section(cur, runbook_id: str, section: str, position: int) -> None:
    cur.execute("UPDATE runbook_sections SET position = ? WHERE runbook_id = ? AND section = ?",
                (position, runbook_id, section))


def mark_sections_gone(cur, keys: list[tuple[str, str]], now: datetime) -> None:
    for runbook_id, section in keys:
        cur.execute("UPDATE runbook_sections SET gone_at = ? WHERE runbook_id = ? AND section = ? AND gone_at IS NULL",
                    (now, runbook_id, section))


def mark_document_gone(cur, runbook_id: str, now: datetime) -> None:
    cur.execute("UPDATE runbook_documents SET gone_at = ? WHERE id = ? AND gone_at IS NULL", (now, runbook_id))
    cur.execute("UPDATE runbook_sections SET gone_at = ? WHERE runbook_id = ? AND gone_at IS NULL", (now, runbook_id))


def sections(db: Database, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Live sections by (runbook id, section), with their document's title and meta."""
    if not keys:
        return {}
    where = " OR ".join(["(s.runbook_id = ? AND s.section = ?)"] * len(keys))
    rows = db.fetchall("SELECT s.runbook_id, s.section, s.position, s.heading, s.body, d.title, d.path, d.meta_json "
                       "FROM runbook_sections s JOIN runbook_documents d ON d.id = s.runbook_id "
                       f"WHERE s.gone_at IS NULL AND d.gone_at IS NULL AND ({where})",
                       [v for key in keys for v in key])
    return {(r[0], r[1]): {"runbook_id": r[0], "section": r[1], "position": r[2], "heading": r[3], "body": r[4],
                           "title": r[5], "path": r[6], "meta": json.loads(r[7])} for r in rows}


def live_sections_of(db: Database, runbook_ids: list[str]) -> list[tuple[str, str]]:
    if not runbook_ids:
        return []
    return [(a, b) for a, b in db.fetchall(
        "SELECT runbook_id, section FROM runbook_sections WHERE gone_at IS NULL AND runbook_id IN ("
        + ", ".join("?" * len(runbook_ids)) + ") ORDER BY runbook_id, position", runbook_ids)]


def live_meta(db: Database) -> dict[str, dict]:
    """Every live document's front matter (a few hundred at most: read whole)."""
    return {i: json.loads(m) for i, m in db.fetchall("SELECT id, meta_json FROM runbook_documents WHERE gone_at IS NULL")}


# ---------------------------------------------------------------------- the templates runbooks name

def _in(values: list) -> str:
    return ", ".join("?" * len(values))


def _chunks(ids: list[int], size: int = 1000):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def merged_targets(db: Database, ids: list[int]) -> dict[int, int]:
    """id -> the learned template it is merged into now (ids not merged are left out)."""
    return {a: b for part in _chunks(ids) for a, b in db.fetchall(
        f"SELECT from_id, to_id FROM template_merges WHERE from_id IN ({_in(part)})", part)}


def merged_members(db: Database, ids: list[int]) -> list[int]:
    """The templates merged into any of `ids` (a runbook linked before a merge names a member)."""
    return [r[0] for part in _chunks(ids) for r in db.fetchall(
        f"SELECT from_id FROM template_merges WHERE to_id IN ({_in(part)})", part)]


def present_templates(db: Database, ids: list[int]) -> set[int]:
    return {r[0] for part in _chunks(ids) for r in db.fetchall(
        f"SELECT id FROM log_templates WHERE id IN ({_in(part)})", part)}


def template_page(db: Database, after_id: int, limit: int) -> list[tuple[int, str, int]]:
    """(id, text, total count) of up to `limit` templates with an id above `after_id`, in id
    order (a keyset page), those merged into a learned one left out (it stands for them)."""
    return [(i, t, c) for i, t, c in db.fetchall(
        "SELECT t.id, t.template, t.total_count FROM log_templates t WHERE t.id > ? AND NOT EXISTS "
        "(SELECT 1 FROM template_merges m WHERE m.from_id = t.id) ORDER BY t.id LIMIT ?", (after_id, limit))]


def live_documents(db: Database) -> list[dict]:
    """Every live document with its live sections (the follower rebuilds what they quote)."""
    docs: dict[str, dict] = {}
    for i, title, path, fmt, digest, meta in db.fetchall(
            "SELECT id, title, path, format, content_hash, meta_json FROM runbook_documents WHERE gone_at IS NULL "
            "ORDER BY id"):
        docs[i] = {"id": i, "title": title, "path": path, "format": fmt, "content_hash": digest,
                   "meta": json.loads(meta), "sections": []}
    for runbook_id, section, position, heading, body in db.fetchall(
            "SELECT runbook_id, section, position, heading, body FROM runbook_sections WHERE gone_at IS NULL "
            "ORDER BY runbook_id, position"):
        if runbook_id in docs:
            docs[runbook_id]["sections"].append({"section": section, "position": position, "heading": heading,
                                                 "body": body})
    return list(docs.values())
