"""SQL for learned templates (migration 0009): the merge table and moving what a merge covers.

A merge maps template ids (canon, or a learned one made more general since) to the learned
template that covers them now. Moving is exact: the merged ids' minute rollups are read
under lock, added to the target's rows and deleted in one transaction; their events are
re-pointed in chunks. A writer that still used an old id after that leaves rows behind;
`leftovers` finds them and the next run moves them the same way, so nothing is lost or
counted twice.
"""
from __future__ import annotations

from datetime import datetime

from db.levels import LEVELS
from db.pool import Database

EVENT_CHUNK = 20_000


def canon_templates(db: Database) -> list[tuple[int, str]]:
    """(id, typed text) of every template ingest made (learned rows excluded)."""
    return db.fetchall("SELECT id, template FROM log_templates WHERE learned = 0")


def mapping(db: Database) -> dict[int, int]:
    return dict(db.fetchall("SELECT from_id, to_id FROM template_merges"))


def learned_targets(db: Database) -> list[tuple[int, bytes, str, int]]:
    """(id, canon_hash, typed text, canon_version) of the templates merges point at (learned
    ones, or a canon one that covers others) and that are not merged further."""
    return db.fetchall("SELECT t.id, t.canon_hash, t.template, t.canon_version FROM log_templates t "
                       "WHERE (t.learned = 1 OR EXISTS (SELECT 1 FROM template_merges m WHERE m.to_id = t.id)) "
                       "AND NOT EXISTS (SELECT 1 FROM template_merges m WHERE m.from_id = t.id)")


def stamp(db: Database) -> tuple:
    """Changes whenever a merge is written: readers reload their map when it moves."""
    return tuple(db.fetchone("SELECT COUNT(*), MAX(merged_at) FROM template_merges"))


def add_new(cur, pairs: list[tuple[int, int]]) -> None:
    """Merges a writer matched at ingest (a canon id it had never seen, covered by a learned
    template); a merge already recorded for that id wins."""
    if pairs:
        cur.executemany("INSERT IGNORE INTO template_merges (from_id, to_id) VALUES (?, ?)", sorted(pairs))


def record(cur, pairs: list[tuple[int, int]]) -> None:
    """from_id -> to_id, and every row that pointed at a from_id now points at its to_id."""
    if not pairs:
        return
    cur.executemany("INSERT INTO template_merges (from_id, to_id) VALUES (?, ?) "
                    "ON DUPLICATE KEY UPDATE to_id = VALUES(to_id), merged_at = CURRENT_TIMESTAMP(6)", sorted(pairs))
    cur.executemany("UPDATE template_merges SET to_id = ? WHERE to_id = ?", [(to, frm) for frm, to in sorted(pairs)])


def upsert_learned(cur, row: tuple, members: list[int]) -> None:
    """row: (id, canon_hash, typed text, canon_version). Its seen window, level and count
    widen by those of `members` (ids whose counts move to it now)."""
    marks = ", ".join("?" * len(members))
    cur.execute("SELECT MAX(level + 0), MIN(first_seen), MAX(last_seen), COALESCE(SUM(total_count), 0) "
                f"FROM log_templates WHERE id IN ({marks})", members)
    level, first, last, total = cur.fetchone()
    if first is None:                           # the members were pruned: nothing to carry
        level, first, last, total = 1, datetime.utcnow(), datetime.utcnow(), 0
    template_id, digest, text, version = row
    cur.execute("INSERT INTO log_templates (id, canon_hash, template, level, first_seen, last_seen, total_count,"
                " canon_version, learned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)"
                " ON DUPLICATE KEY UPDATE first_seen = LEAST(first_seen, VALUES(first_seen)),"
                " last_seen = GREATEST(last_seen, VALUES(last_seen)),"
                " total_count = total_count + VALUES(total_count),"
                " level = IF(VALUES(level) + 0 > level + 0, VALUES(level), level)",
                (template_id, digest, text, LEVELS[int(level) - 1], first, last, int(total), version))


def drop_vectors(cur, ids: list[int]) -> None:
    """Merged templates leave semantic search: their vectors go (the learned one gets its own)."""
    cur.execute("SELECT table_name FROM embedding_models")
    marks = ", ".join("?" * len(ids))
    for (table,) in cur.fetchall():
        cur.execute(f"DELETE FROM `{table}` WHERE template_id IN ({marks})", ids)


def move_rollups(cur, members: list[int], to_id: int) -> int:
    """Minute rollups of `members` added to `to_id`'s and deleted; returns the count moved."""
    marks = ", ".join("?" * len(members))
    cur.execute("SELECT bucket, service, host, level, count FROM template_counts "
                f"WHERE template_id IN ({marks}) FOR UPDATE", members)
    summed: dict[tuple, int] = {}
    for bucket, service, host, level, count in cur.fetchall():
        key = (bucket, service, host, level)
        summed[key] = summed.get(key, 0) + int(count)
    if summed:
        cur.executemany("INSERT INTO template_counts (bucket, service, host, template_id, level, count) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE count = count + VALUES(count)",
                        [(b, s, h, to_id, lv, n) for (b, s, h, lv), n in sorted(summed.items())])
        cur.execute(f"DELETE FROM template_counts WHERE template_id IN ({marks})", members)
    return sum(summed.values())


def add_count(cur, to_id: int, count: int) -> None:
    if count:
        cur.execute("UPDATE log_templates SET total_count = total_count + ? WHERE id = ?", (count, to_id))


def move_events(db: Database, members: list[int], to_id: int) -> int:
    """Events of `members` re-pointed to `to_id`, in chunks (each its own transaction)."""
    marks = ", ".join("?" * len(members))
    moved = 0
    while True:
        with db.transaction() as cur:
            cur.execute(f"UPDATE log_events SET template_id = ? WHERE template_id IN ({marks}) LIMIT {EVENT_CHUNK}",
                        [to_id, *members])
            n = cur.rowcount
        moved += n
        if n < EVENT_CHUNK:
            return moved


def leftovers(db: Database) -> dict[int, int]:
    """Merged ids that still own rollups or events (a writer with an older map): from -> to."""
    rows = db.fetchall("SELECT m.from_id, m.to_id FROM template_merges m WHERE "
                       "EXISTS (SELECT 1 FROM template_counts c WHERE c.template_id = m.from_id) "
                       "OR EXISTS (SELECT 1 FROM log_events e WHERE e.template_id = m.from_id)")
    return dict(rows)
