"""SQL for the web UI's pictures: per-service line and error rates in steps, and a log
histogram (from the minute rollups; from raw events only for a text filter, bounded)."""
from __future__ import annotations

from datetime import datetime

from db.events import EventFilter
from db.levels import LEVELS
from db.pool import Database

SEVERE_FROM = LEVELS.index("error") + 1          # ENUM positions are 1-based: error and worse
SCAN_LIMIT = 200_000                              # raw rows a text-filtered histogram reads at most


def service_steps(db: Database, since: datetime, until: datetime, step_s: int
                  ) -> list[tuple[str, int, int, int]]:
    """(service, step index from `since`, lines, error-or-worse lines) over [since, until)."""
    rows = db.fetchall(
        "SELECT service, FLOOR(TIMESTAMPDIFF(SECOND, ?, bucket) / ?) AS k, SUM(count), "
        "SUM(IF(level + 0 >= ?, count, 0)) FROM template_counts WHERE bucket >= ? AND bucket < ? "
        "GROUP BY service, k", [since, step_s, SEVERE_FROM, since, until])
    return [(s, int(k), int(n), int(e)) for s, k, n, e in rows]


def histogram(db: Database, flt: EventFilter, step_s: int) -> tuple[list[tuple[int, int]], bool]:
    """[(step index from flt.since, count)] and whether a text filter's scan was cut at
    SCAN_LIMIT rows (the newest are counted then). flt.since and flt.until are required."""
    if flt.q:
        clauses, params = flt.where()
        rows = db.fetchall(
            "SELECT FLOOR(TIMESTAMPDIFF(SECOND, ?, ts) / ?) AS k, COUNT(*) FROM (SELECT ts FROM log_events "
            f"WHERE {' AND '.join(clauses)} ORDER BY ts DESC LIMIT ?) r GROUP BY k",
            [flt.since, step_s, *params, SCAN_LIMIT])
        total = sum(int(n) for _, n in rows)
        return [(int(k), int(n)) for k, n in rows], total >= SCAN_LIMIT
    clauses, params = ["bucket >= ?", "bucket < ?"], [flt.since.replace(second=0, microsecond=0), flt.until]
    for column, values in (("service", flt.service), ("host", flt.host), ("level", flt.level),
                           ("template_id", flt.template_id)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    rows = db.fetchall(f"SELECT FLOOR(TIMESTAMPDIFF(SECOND, ?, bucket) / ?) AS k, SUM(count) FROM template_counts "
                       f"WHERE {' AND '.join(clauses)} GROUP BY k", [flt.since.replace(second=0, microsecond=0),
                                                                    step_s, *params])
    return [(int(k), int(n)) for k, n in rows], False
