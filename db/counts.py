"""SQL for template_counts, the minute rollups (bucket x service x host x template x level),
and the writer of service_counts, their per-service sums (bucket x service: lines, errors)."""
from __future__ import annotations

from datetime import datetime

from db.levels import LEVELS
from db.pool import Database

_ROW = "(?, ?, ?, ?, ?, ?)"
_SEVERE = frozenset(LEVELS[LEVELS.index("error"):])        # error or worse


def add(cur, rows: list[tuple]) -> None:
    """rows: (bucket, service, host, template_id, level, count); one bulk upsert, in key
    order so concurrent batches lock rows in the same order."""
    if not rows:
        return
    cur.executemany("INSERT INTO template_counts (bucket, service, host, template_id, level, count) VALUES "
                    f"{_ROW} ON DUPLICATE KEY UPDATE count = count + VALUES(count)", sorted(rows))


def add_services(cur, rows: list[tuple]) -> None:
    """The same rows as add(), folded per (bucket, service) into service_counts (lines and
    error-or-worse lines); in the same transaction as add(), so the two always agree."""
    folded: dict[tuple, list[int]] = {}
    for bucket, service, _host, _template_id, level, n in rows:
        cell = folded.setdefault((bucket, service), [0, 0])
        cell[0] += n
        cell[1] += n if level in _SEVERE else 0
    if folded:
        cur.executemany("INSERT INTO service_counts (bucket, service, count, errors) VALUES (?, ?, ?, ?) "
                        "ON DUPLICATE KEY UPDATE count = count + VALUES(count), errors = errors + VALUES(errors)",
                        sorted((*key, n, e) for key, (n, e) in folded.items()))


def services_of(db: Database, template_ids: list[int]) -> dict[int, list[str]]:
    """The services each template was seen in (from rollups, not raw events)."""
    if not template_ids:
        return {}
    rows = db.fetchall("SELECT DISTINCT template_id, service FROM template_counts WHERE template_id IN ("
                       + ", ".join("?" * len(template_ids)) + ")", template_ids)
    out: dict[int, list[str]] = {}
    for template_id, service in rows:
        out.setdefault(template_id, []).append(service)
    return out


def template_totals(db: Database, template_ids: list[int], services: list[str] | None = None,
                    since: datetime | None = None, until: datetime | None = None) -> dict[int, int]:
    """Event counts per template, optionally within services and a window."""
    if not template_ids:
        return {}
    clauses = [f"template_id IN ({', '.join('?' * len(template_ids))})"]
    params: list = list(template_ids)
    if services:
        clauses.append(f"service IN ({', '.join('?' * len(services))})")
        params.extend(services)
    _window(clauses, params, since, until)
    rows = db.fetchall(f"SELECT template_id, SUM(count) FROM template_counts WHERE {' AND '.join(clauses)}"
                       " GROUP BY template_id", params)
    return {r[0]: int(r[1]) for r in rows}


def _window(clauses: list[str], params: list, since: datetime | None, until: datetime | None) -> None:
    if since:
        clauses.append("bucket >= ?")
        params.append(since.replace(second=0, microsecond=0))
    if until:
        clauses.append("bucket < ?")
        params.append(until)


def active_templates(db: Database, since: datetime, until: datetime, services: list[str] | None = None,
                     limit: int = 500) -> list[tuple[str, int, int, str]]:
    """(service, template_id, count, most severe level) seen in the window, most severe and
    busiest first."""
    clauses, params = [], []
    _window(clauses, params, since, until)
    if services:
        clauses.append(f"service IN ({', '.join('?' * len(services))})")
        params.extend(services)
    rows = db.fetchall("SELECT service, template_id, SUM(count), MAX(level + 0) FROM template_counts WHERE "
                       + " AND ".join(clauses) + " GROUP BY service, template_id "
                       "ORDER BY MAX(level + 0) DESC, SUM(count) DESC LIMIT ?", [*params, limit])
    return [(s, t, int(c), LEVELS[int(lv) - 1]) for s, t, c, lv in rows]


def window_stats(db: Database, template_ids: list[int], since: datetime | None, until: datetime | None
                 ) -> dict[int, dict]:
    """Per template in the window: count, last bucket, services."""
    if not template_ids:
        return {}
    clauses, params = [f"template_id IN ({', '.join('?' * len(template_ids))})"], list(template_ids)
    _window(clauses, params, since, until)
    rows = db.fetchall("SELECT template_id, service, SUM(count), MAX(bucket) FROM template_counts WHERE "
                       + " AND ".join(clauses) + " GROUP BY template_id, service", params)
    out: dict[int, dict] = {}
    for template_id, service, count, last in rows:
        entry = out.setdefault(template_id, {"count": 0, "last": last, "services": []})
        entry["count"] += int(count)
        entry["last"] = max(entry["last"], last)
        entry["services"].append(service)
    return out


def window_and_baseline(db: Database, template_ids: list[int], baseline_since: datetime, since: datetime,
                        until: datetime) -> dict[int, dict]:
    """One pass over [baseline_since, until): per template the count in [since, until), the
    count before it (the baseline), the last bucket seen and the services."""
    if not template_ids:
        return {}
    rows = db.fetchall(
        "SELECT template_id, service, SUM(IF(bucket >= ?, count, 0)), SUM(IF(bucket < ?, count, 0)), MAX(bucket) "
        f"FROM template_counts WHERE template_id IN ({', '.join('?' * len(template_ids))}) "
        "AND bucket >= ? AND bucket < ? GROUP BY template_id, service",
        [since, since, *template_ids, baseline_since.replace(second=0, microsecond=0), until])
    out: dict[int, dict] = {}
    for template_id, service, window, baseline, last in rows:
        entry = out.setdefault(template_id, {"count": 0, "baseline": 0, "last": last, "services": []})
        entry["count"] += int(window)
        entry["baseline"] += int(baseline)
        entry["last"] = max(entry["last"], last)
        entry["services"].append(service)
    return out


def service_minutes(db: Database, services: list[str], since: datetime, until: datetime
                    ) -> list[tuple[datetime, str, str, int, int]]:
    """(minute, service, host, all events, error-or-worse events) for the services."""
    if not services:
        return []
    rows = db.fetchall("SELECT bucket, service, host, SUM(count), SUM(IF(level + 0 >= 5, count, 0)) "
                       f"FROM template_counts WHERE service IN ({', '.join('?' * len(services))}) "
                       "AND bucket >= ? AND bucket < ? GROUP BY bucket, service, host",
                       [*services, since.replace(second=0, microsecond=0), until])
    return [(b, s, h, int(n), int(e)) for b, s, h, n, e in rows]


def templates_in(db: Database, services: list[str] | None, hosts: list[str] | None, since: datetime,
                 until: datetime, baseline_since: datetime, limit: int = 2000) -> list[dict]:
    """Per (service, host, template) active in [since, until): count, first and last bucket,
    the most severe level, and the count in [baseline_since, since) before it."""
    clauses, params = [], []
    if services:
        clauses.append(f"c.service IN ({', '.join('?' * len(services))})")
        params.extend(services)
    if hosts:
        clauses.append(f"c.host IN ({', '.join('?' * len(hosts))})")
        params.extend(hosts)
    scope = ("(" + " OR ".join(clauses) + ") AND ") if clauses else ""
    rows = db.fetchall(
        "SELECT c.service, c.host, c.template_id, t.template, SUM(IF(c.bucket >= ?, c.count, 0)), "
        "MIN(IF(c.bucket >= ?, c.bucket, NULL)), MAX(c.bucket), MAX(c.level + 0), SUM(IF(c.bucket < ?, c.count, 0)) "
        "FROM template_counts c JOIN log_templates t ON t.id = c.template_id WHERE " + scope +
        "c.bucket >= ? AND c.bucket < ? GROUP BY c.service, c.host, c.template_id "
        "HAVING SUM(IF(c.bucket >= ?, c.count, 0)) > 0 ORDER BY MAX(c.level + 0) DESC, 5 DESC LIMIT ?",
        [since, since, since, *params, baseline_since.replace(second=0, microsecond=0), until, since, limit])
    return [{"service": s, "host": h, "template_id": t, "template": text, "count": int(n), "first": first,
             "last": last, "level": LEVELS[int(lv) - 1], "baseline": int(b)}
            for s, h, t, text, n, first, last, lv, b in rows]


def history_start(db: Database, services: list[str]) -> datetime | None:
    """The earliest rollup minute of these services: how much history there is."""
    if not services:
        return None
    row = db.fetchone(f"SELECT MIN(bucket) FROM template_counts WHERE service IN ({', '.join('?' * len(services))})",
                      services)
    return row[0] if row else None


def template_minutes(db: Database, template_id: int, since: datetime, until: datetime) -> list[tuple]:
    """(minute, service, host, count) of one template in the window, in time order."""
    rows = db.fetchall("SELECT bucket, service, host, SUM(count) FROM template_counts WHERE template_id = ? "
                       "AND bucket >= ? AND bucket < ? GROUP BY bucket, service, host ORDER BY bucket",
                       (template_id, since.replace(second=0, microsecond=0), until))
    return [(b, s, h, int(c)) for b, s, h, c in rows]


def template_profile(db: Database, services: list[str], baseline_since: datetime, since: datetime,
                     until: datetime, limit: int = 20000) -> list[tuple[str, int, str, int, int, str]]:
    """(service, template id, most severe level, count in [baseline_since, since), count in
    [since, until), template text) for every template of these services seen in either period,
    vanished ones included."""
    if not services:
        return []
    rows = db.fetchall(
        "SELECT c.service, c.template_id, MAX(c.level + 0), SUM(IF(c.bucket < ?, c.count, 0)), "
        "SUM(IF(c.bucket >= ?, c.count, 0)), t.template FROM template_counts c "
        "JOIN log_templates t ON t.id = c.template_id "
        f"WHERE c.service IN ({', '.join('?' * len(services))}) AND c.bucket >= ? AND c.bucket < ? "
        "GROUP BY c.service, c.template_id LIMIT ?",
        [since, since, *services, baseline_since.replace(second=0, microsecond=0), until, limit])
    return [(s, int(t), LEVELS[int(lv) - 1], int(b), int(w), text) for s, t, lv, b, w, text in rows]


def service_template_minutes(db: Database, services: list[str], since: datetime, until: datetime,
                             limit: int = 50000) -> list[tuple[datetime, str, int, int]]:
    """(minute, service, template id, count): the per-minute mix, for finding a change point."""
    if not services:
        return []
    rows = db.fetchall(
        "SELECT bucket, service, template_id, SUM(count) FROM template_counts "
        f"WHERE service IN ({', '.join('?' * len(services))}) AND bucket >= ? AND bucket < ? "
        "GROUP BY bucket, service, template_id LIMIT ?",
        [*services, since.replace(second=0, microsecond=0), until, limit])
    return [(b, s, int(t), int(c)) for b, s, t, c in rows]


def severe_by_service(db: Database, baseline_since: datetime, since: datetime, until: datetime
                      ) -> list[tuple[str, str, int, int]]:
    """(service, host, warning-or-worse lines in [baseline_since, since), the same in
    [since, until)) for every service: what a naive ranking reads."""
    rows = db.fetchall(
        "SELECT service, host, SUM(IF(bucket < ?, count, 0)), SUM(IF(bucket >= ?, count, 0)) FROM template_counts "
        "WHERE level + 0 >= 4 AND bucket >= ? AND bucket < ? GROUP BY service, host",
        [since, since, baseline_since.replace(second=0, microsecond=0), until])
    return [(s, h, int(b), int(w)) for s, h, b, w in rows]


def pattern_minutes(db: Database, services: list[str] | None, hosts: list[str] | None, levels: list[str] | None,
                    since: datetime, until: datetime, limit: int = 200_000) -> list[tuple]:
    """(bucket, service, host, level, template_id, template, count) rollup rows in [since, until)."""
    clauses, params = ["c.bucket >= ?", "c.bucket < ?"], [since.replace(second=0, microsecond=0), until]
    for column, values in (("c.service", services), ("c.host", hosts), ("c.level", levels)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    return db.fetchall("SELECT c.bucket, c.service, c.host, c.level, c.template_id, t.template, c.count "
                       "FROM template_counts c JOIN log_templates t ON t.id = c.template_id WHERE "
                       + " AND ".join(clauses) + " LIMIT ?", [*params, limit])


def window_profile(db: Database, services: list[str] | None, hosts: list[str] | None, levels: list[str] | None,
                   baseline_since: datetime, since: datetime, until: datetime, slice_seconds: int,
                   limit: int = 200_000) -> list[tuple]:
    """The window analysis's read (agents/window.py): per (service, host, level, template) the
    count in [since, until) with its first minute (slice -1), and the counts in [baseline_since,
    since) per slice of `slice_seconds` back from `since` (slice 0 = the one just before it).
    Rows: (slice, service, host, level, template_id, template, count, first bucket)."""
    clauses, params = ["c.bucket >= ?", "c.bucket < ?"], [baseline_since.replace(second=0, microsecond=0), until]
    for column, values in (("c.service", services), ("c.host", hosts), ("c.level", levels)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    rows = db.fetchall(
        "SELECT g.back, g.service, g.host, g.level, g.template_id, t.template, g.n, g.first FROM ("
        "SELECT IF(c.bucket >= ?, -1, (TIMESTAMPDIFF(SECOND, c.bucket, ?) - 1) DIV ?) AS back, c.service, c.host, "
        "c.level, c.template_id, SUM(c.count) AS n, MIN(c.bucket) AS first FROM template_counts c WHERE "
        + " AND ".join(clauses) + " GROUP BY back, c.service, c.host, c.level, c.template_id LIMIT ?) g "
        "JOIN log_templates t ON t.id = g.template_id", [since, since, slice_seconds, *params, limit])
    return [(int(b), s, h, lvl, int(t), text, int(n), first) for b, s, h, lvl, t, text, n, first in rows]
