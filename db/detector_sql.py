"""SQL the detectors read and write: per-minute rollup series, state, named locks."""
from __future__ import annotations

import json
from datetime import datetime

from db.levels import LEVELS

# "error or worse" in the ENUM order of db/levels.py (debug=1 .. emergency=8)
ERROR_RANK = 5


def minute_counts(cur, since: datetime, until: datetime) -> list[tuple[datetime, str, int, int]]:
    """(minute, service, all events, error-or-worse events) for minutes in [since, until)."""
    cur.execute("SELECT bucket, service, count, errors FROM service_counts WHERE bucket >= ? AND bucket < ? "
                "ORDER BY bucket", (since, until))          # the per-service sums of template_counts
    return [(b, s, int(n), int(e)) for b, s, n, e in cur.fetchall()]


def first_bucket(cur) -> datetime | None:
    cur.execute("SELECT MIN(bucket) FROM template_counts")
    row = cur.fetchone()
    return row[0] if row else None


def active_in(cur, since: datetime, until: datetime) -> list[tuple[str, str, int, str, int, str]]:
    """(service, host, template_id, template text, count, level) active in [since, until)."""
    cur.execute("SELECT c.service, c.host, c.template_id, t.template, SUM(c.count), MAX(c.level + 0) "
                "FROM template_counts c JOIN log_templates t ON t.id = c.template_id "
                "WHERE c.bucket >= ? AND c.bucket < ? GROUP BY c.service, c.host, c.template_id", (since, until))
    return [(s, h, t, text, int(n), LEVELS[int(lv) - 1]) for s, h, t, text, n, lv in cur.fetchall()]


def new_templates(cur, since: datetime, until: datetime, min_rank: int = ERROR_RANK) -> list[tuple[int, str, str]]:
    """(template id, text, level) first seen in [since, until) at min_rank or worse."""
    cur.execute("SELECT id, template, level FROM log_templates t WHERE first_seen >= ? AND first_seen < ? "
                "AND level + 0 >= ? AND NOT EXISTS (SELECT 1 FROM template_merges m WHERE m.from_id = t.id)", (since, until, min_rank))
    return [(i, t, lv) for i, t, lv in cur.fetchall()]


def load_state(cur, detector: str) -> dict[str, dict]:
    cur.execute("SELECT service, state_json FROM detector_state WHERE detector = ?", (detector,))
    return {s: json.loads(j) for s, j in cur.fetchall()}


def save_state(cur, detector: str, states: dict[str, dict]) -> None:
    if states:
        cur.executemany("INSERT INTO detector_state (detector, service, state_json) VALUES (?, ?, ?) "
                        "ON DUPLICATE KEY UPDATE state_json = VALUES(state_json)",
                        [(detector, s, json.dumps(v, default=str)) for s, v in sorted(states.items())])


def try_lock(cur, name: str) -> bool:
    """A MariaDB named lock held by this connection until release (or disconnect). Named
    locks are server-wide, so the name carries the database: two DevMesh databases on one
    server (a second deployment, the evals' scratch databases) never skip each other's cycles."""
    cur.execute("SELECT GET_LOCK(CONCAT(?, ':', DATABASE()), 0)", (name,))
    return cur.fetchone()[0] == 1


def release_lock(cur, name: str) -> None:
    cur.execute("DO RELEASE_LOCK(CONCAT(?, ':', DATABASE()))", (name,))


def active_minutes(cur, since: datetime, until: datetime) -> list[tuple[datetime, str, str, int, str, int]]:
    """(minute, service, host, template_id, template text, count) active in [since, until)."""
    cur.execute("SELECT c.bucket, c.service, c.host, c.template_id, t.template, SUM(c.count) "
                "FROM template_counts c JOIN log_templates t ON t.id = c.template_id "
                "WHERE c.bucket >= ? AND c.bucket < ? GROUP BY c.bucket, c.service, c.host, c.template_id",
                (since, until))
    return [(b, s, h, int(t), text, int(n)) for b, s, h, t, text, n in cur.fetchall()]


def service_errors(cur, service: str, since: datetime, until: datetime) -> list[int]:
    """Error-or-worse lines per minute of one service in [since, until) (minutes with some)."""
    cur.execute("SELECT SUM(count) FROM template_counts WHERE service = ? AND bucket >= ? AND bucket < ? "
                "AND level + 0 >= ? GROUP BY bucket", (service, since, until, ERROR_RANK))
    return [int(n) for (n,) in cur.fetchall()]


def lines_of(cur, service: str, host: str | None, since: datetime, until: datetime) -> int:
    """Lines one service wrote in [since, until), on one host when `host` is given."""
    cur.execute("SELECT COALESCE(SUM(count), 0) FROM template_counts WHERE service = ? AND bucket >= ? "
                "AND bucket < ?" + (" AND host = ?" if host else ""),
                (service, since, until, *([host] if host else [])))
    return int(cur.fetchone()[0])


def templates_seen(cur, template_ids: list[int], service: str, since: datetime, until: datetime) -> int:
    """Lines of these templates from one service in [since, until)."""
    if not template_ids:
        return 0
    cur.execute(f"SELECT COALESCE(SUM(count), 0) FROM template_counts WHERE template_id IN "
                f"({', '.join('?' * len(template_ids))}) AND service = ? AND bucket >= ? AND bucket < ?",
                (*template_ids, service, since, until))
    return int(cur.fetchone()[0])


def habits(cur, since: datetime, quiet_from: datetime, until: datetime, min_minutes: int
           ) -> list[tuple[str, int, str, int, int]]:
    """Templates a service logged in at least `min_minutes` of the minutes [since, quiet_from)
    and not once in [quiet_from, until), from services that did log in [quiet_from, until):
    (service, template id, text, minutes present, lines before)."""
    cur.execute(
        "SELECT c.service, c.template_id, t.template, COUNT(DISTINCT c.bucket), SUM(c.count) "
        "FROM template_counts c JOIN log_templates t ON t.id = c.template_id "
        "WHERE c.bucket >= ? AND c.bucket < ? "
        "AND c.service IN (SELECT DISTINCT service FROM template_counts WHERE bucket >= ? AND bucket < ?) "
        "AND NOT EXISTS (SELECT 1 FROM template_counts r WHERE r.service = c.service "
        "AND r.template_id = c.template_id AND r.bucket >= ? AND r.bucket < ?) "
        "GROUP BY c.service, c.template_id HAVING COUNT(DISTINCT c.bucket) >= ?",
        (since, quiet_from, quiet_from, until, quiet_from, until, min_minutes))
    return [(s, int(t), text, int(m), int(n)) for s, t, text, m, n in cur.fetchall()]
