"""SQL for the web UI's pictures: per-service line and error rates in steps (service_counts),
and a log histogram (template_counts; from raw events only for a text filter, bounded)."""
from __future__ import annotations

from datetime import datetime

from db.events import EventFilter
from db.pool import Database

SCAN_LIMIT = 200_000                              # raw rows a text-filtered histogram reads at most


def service_steps(db: Database, since: datetime, until: datetime, step_s: int
                  ) -> list[tuple[str, int, int, int]]:
    """(service, step index from `since`, lines, error-or-worse lines) over [since, until),
    from service_counts (one row per service and minute, a range of its primary key); the
    minutes are folded into steps here."""
    rows = db.fetchall("SELECT bucket, service, count, errors FROM service_counts WHERE bucket >= ? AND bucket < ?",
                       [since, until])
    steps: dict[tuple[str, int], list[int]] = {}
    for bucket, service, lines, errors in rows:
        cell = steps.setdefault((service, int((bucket - since).total_seconds() // step_s)), [0, 0])
        cell[0] += int(lines)
        cell[1] += int(errors)
    return [(s, k, n, e) for (s, k), (n, e) in steps.items()]


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
    rows = db.fetchall(f"SELECT bucket, SUM(count) FROM template_counts WHERE {' AND '.join(clauses)} "
                       "GROUP BY bucket", params)                  # the key's first column: index order
    start = flt.since.replace(second=0, microsecond=0)
    steps: dict[int, int] = {}
    for bucket, n in rows:
        k = int((bucket - start).total_seconds() // step_s)
        steps[k] = steps.get(k, 0) + int(n)
    return sorted(steps.items()), False
