"""SQL for log_templates: create-if-new and per-batch statistics, template reads, and text search."""
from __future__ import annotations

from db.events import contains
from db.pool import Database

_NEW = "(?, ?, ?, ?, ?, ?, 0, ?)"
_STATS = "(?, ?, ?, ?, ?, ?, ?, ?)"


def insert_new(cur, rows: list[tuple]) -> set[int]:
    """rows: (id, canon_hash, template, level, first_seen, last_seen, canon_version).
    Creates the missing ones; returns the ids this call created (race-free)."""
    if not rows:
        return set()
    cur.execute("INSERT IGNORE INTO log_templates (id, canon_hash, template, level, first_seen, "
                "last_seen, total_count, canon_version) VALUES " + ", ".join([_NEW] * len(rows))
                + " RETURNING id", [v for row in sorted(rows) for v in row])
    return {r[0] for r in cur.fetchall()}


def add_stats(cur, rows: list[tuple]) -> None:
    """rows: (id, canon_hash, template, level, first_seen, last_seen, count, canon_version).
    Widens the seen window, adds the count, keeps the most severe level, and keeps the
    lexically smallest typed text so the display is the same whatever the arrival order."""
    if not rows:
        return
    cur.executemany(
        "INSERT INTO log_templates (id, canon_hash, template, level, first_seen, last_seen, total_count,"
        f" canon_version) VALUES {_STATS}"
        " ON DUPLICATE KEY UPDATE first_seen = LEAST(first_seen, VALUES(first_seen)),"
        " last_seen = GREATEST(last_seen, VALUES(last_seen)),"
        " total_count = total_count + VALUES(total_count),"
        " level = IF(VALUES(level) + 0 > level + 0, VALUES(level), level),"
        " template = IF(VALUES(template) < template, VALUES(template), template)",
        sorted(rows))


def existing_ids(cur, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    cur.execute(f"SELECT id FROM log_templates WHERE id IN ({', '.join('?' * len(ids))})", ids)
    return {r[0] for r in cur.fetchall()}


_COLUMNS = "id, template, level, first_seen, last_seen, total_count, canon_version"


def get(db: Database, template_id: int) -> dict | None:
    row = db.fetchone(f"SELECT {_COLUMNS} FROM log_templates WHERE id = ?", (template_id,))
    return _template(row) if row else None


def get_many(db: Database, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = db.fetchall(f"SELECT {_COLUMNS} FROM log_templates WHERE id IN ({', '.join('?' * len(ids))})", ids)
    return {r[0]: _template(r) for r in rows}


def _template(row: tuple) -> dict:
    keys = ("id", "template", "level", "first_seen", "last_seen", "total_count", "canon_version")
    out = dict(zip(keys, row))
    out["first_seen"] = out["first_seen"].isoformat() + "Z"
    out["last_seen"] = out["last_seen"].isoformat() + "Z"
    return out


def matching(db: Database, terms: list[str], levels: list[str] | None, limit: int) -> list[dict]:
    """Templates whose text holds every term (a substring, case-insensitive as the column's
    collation), busiest first; templates merged into a learned one are left out (it stands
    for them). No terms: the busiest templates. At most `limit` rows."""
    clauses = ["NOT EXISTS (SELECT 1 FROM template_merges m WHERE m.from_id = t.id)"]
    params: list = []
    for term in terms:
        clauses.append("t.template LIKE ? ESCAPE '!'")
        params.append(contains(term))
    if levels:
        clauses.append(f"t.level IN ({', '.join('?' * len(levels))})")
        params.extend(levels)
    rows = db.fetchall(f"SELECT {', '.join('t.' + c.strip() for c in _COLUMNS.split(','))} FROM log_templates t "
                       f"WHERE {' AND '.join(clauses)} ORDER BY t.total_count DESC, t.id LIMIT ?", [*params, limit])
    return [_template(r) for r in rows]
