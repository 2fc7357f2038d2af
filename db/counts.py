"""SQL for template_counts, the minute rollups (bucket x service x host x template x level)."""
from __future__ import annotations

from datetime import datetime

from db.pool import Database

_ROW = "(?, ?, ?, ?, ?, ?)"


def add(cur, rows: list[tuple]) -> None:
    """rows: (bucket, service, host, template_id, level, count); one bulk upsert, in key
    order so concurrent batches lock rows in the same order."""
    if not rows:
        return
    cur.executemany("INSERT INTO template_counts (bucket, service, host, template_id, level, count) VALUES "
                    f"{_ROW} ON DUPLICATE KEY UPDATE count = count + VALUES(count)", sorted(rows))


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
    if since:
        clauses.append("bucket >= ?")
        params.append(since.replace(second=0, microsecond=0))
    if until:
        clauses.append("bucket < ?")
        params.append(until)
    rows = db.fetchall(f"SELECT template_id, SUM(count) FROM template_counts WHERE {' AND '.join(clauses)}"
                       " GROUP BY template_id", params)
    return {r[0]: int(r[1]) for r in rows}
