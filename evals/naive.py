"""The naive baseline every score is read against: services ranked by the rise of their
warning-or-worse lines per minute in the window over their own baseline (up to 4 h before
it). No graph, no traces, no templates; the host is where that service's rise was largest."""
from __future__ import annotations

from datetime import datetime, timedelta

from db import counts
from db.pool import Database

BASELINE = timedelta(hours=4)


def rank(db: Database, since: datetime, until: datetime, history_start: datetime | None = None,
         limit: int = 5) -> list[dict]:
    baseline_since = max(history_start or since - BASELINE, since - BASELINE)
    base_minutes = max(1.0, (since - baseline_since).total_seconds() / 60)
    window_minutes = max(1.0, (until - since).total_seconds() / 60)
    per_service: dict[str, dict[str, float]] = {}
    for service, host, base, win in counts.severe_by_service(db, baseline_since, since, until):
        rise = win / window_minutes - base / base_minutes
        per_service.setdefault(service, {})[host] = rise
    ranked = sorted(((sum(h.values()), s) for s, h in per_service.items()), key=lambda x: (-x[0], x[1]))
    return [{"service": s, "host": max(per_service[s], key=per_service[s].get), "score": round(r, 3)}
            for r, s in ranked if r > 0][:limit]
