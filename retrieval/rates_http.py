"""JSON the web UI draws (and anyone may read): GET /stats/services, per-service line and
error rates in steps with a health word each, and GET /query/logs/histogram, counts per
step for the same filters as /query/logs. Both read the minute rollups; only a text filter
(`q`) makes the histogram scan raw events, at most db.rates.SCAN_LIMIT of the newest."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from db import rates
from db.events import EventFilter
from ingest.normalize import parse_duration
from retrieval.http import fail, levels, parse_time, split

router = APIRouter(tags=["stats"])
MAX_WINDOW = timedelta(days=31)
MAX_STEPS = 720
RECENT_STEPS = 3            # "now" in /stats/services: the last three steps, against the steps before


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _window(since: str | None, until: str | None, default: timedelta) -> tuple[datetime, datetime]:
    end = parse_time(until, "until") or _now()
    start = parse_time(since, "since") or end - default
    if start >= end:
        raise fail(400, "invalid_window", "since must be before until")
    if end - start > MAX_WINDOW:
        raise fail(400, "window_too_long", f"at most {MAX_WINDOW.days} days between since and until; narrow it")
    return start.replace(second=0, microsecond=0), end


def _step(value: str | None, start: datetime, end: datetime) -> int:
    """Seconds per step: the asked one (a whole number of minutes) or what keeps the window
    within MAX_STEPS; never finer than a minute (the rollups' grain)."""
    least = max(60, math.ceil((end - start).total_seconds() / MAX_STEPS / 60) * 60)
    if not value:
        return least
    try:
        asked = parse_duration(value)
    except (ValueError, OverflowError):
        asked = None
    if asked is None or asked.total_seconds() < 60 or asked.total_seconds() % 60:
        raise fail(400, "invalid_step", f"step={value!r}: use whole minutes such as 1m, 5m, 1h")
    return max(least, int(asked.total_seconds()))


def _health(now_rate: float, base_rate: float, now_lines: float, base_lines: float) -> str:
    """A word for a service: `elevated` when its errors per step now exceed twice its
    baseline's and reach one a step, `quiet` when it went silent after talking,
    `idle` with no lines at all, else `ok`."""
    if now_rate >= max(2 * base_rate, 1.0) and now_rate > base_rate:
        return "elevated"
    if now_lines == 0 and base_lines > 0:
        return "quiet"
    if now_lines == 0 and base_lines == 0:
        return "idle"
    return "ok"


def services_view(rows, names: list[str], start: datetime, steps: int, step_s: int) -> list[dict]:
    """Per service: lines and errors per step, errors per step now vs the baseline, a word."""
    table: dict[str, tuple[list[int], list[int]]] = {n: ([0] * steps, [0] * steps) for n in names}
    for service, k, lines, errors in rows:
        if 0 <= k < steps:
            total, bad = table.setdefault(service, ([0] * steps, [0] * steps))
            total[k] += lines
            bad[k] += errors
    recent = min(RECENT_STEPS, steps)
    out = []
    for service in sorted(table):
        total, bad = table[service]
        before = max(steps - recent, 1)
        now_rate, base_rate = sum(bad[-recent:]) / recent, sum(bad[:-recent]) / before
        now_lines, base_lines = sum(total[-recent:]) / recent, sum(total[:-recent]) / before
        out.append({"service": service, "in_inventory": service in names, "lines": total, "errors": bad,
                    "errors_per_step_now": round(now_rate, 3), "errors_per_step_baseline": round(base_rate, 3),
                    "lines_per_step_now": round(now_lines, 3), "health": _health(now_rate, base_rate, now_lines,
                                                                                 base_lines)})
    return out


@router.get("/stats/services")
async def stats_services(request: Request, since: str | None = Query(None, description="default 3h"),
                         until: str | None = None, step: str | None = Query(None, description="e.g. 5m")):
    """Every inventory service (and any other that logged in the window): lines and
    error-or-worse lines per step, now (the last 3 steps) against the steps before."""
    start, end = _window(since, until, timedelta(hours=3))
    step_s = _step(step, start, end)
    steps = max(1, math.ceil((end - start).total_seconds() / step_s))
    inventory = request.app.state.topology.inventory
    names = sorted(inventory.services) if inventory is not None else []
    rows = await run_in_threadpool(rates.service_steps, request.app.state.db_ro, start, end, step_s)
    return {"since": start.isoformat() + "Z", "until": end.isoformat() + "Z", "step_s": step_s,
            "buckets": [(start + timedelta(seconds=i * step_s)).isoformat() + "Z" for i in range(steps)],
            "services": services_view(rows, names, start, steps, step_s)}


@router.get("/query/logs/histogram")
async def logs_histogram(request: Request, service: list[str] | None = Query(None),
                         host: list[str] | None = Query(None), level: list[str] | None = Query(None),
                         since: str | None = Query(None, description="default 1h"), until: str | None = None,
                         q: str | None = None, template_id: list[int] | None = Query(None),
                         step: str | None = Query(None, description="whole minutes; default 1m up to 12 h")):
    """Lines per step for /query/logs's filters (a bar chart above the list)."""
    start, end = _window(since, until, timedelta(hours=1))
    step_s = _step(step, start, end)
    steps = max(1, math.ceil((end - start).total_seconds() / step_s))
    flt = EventFilter(split(service), split(host), levels(level), start, end, q or None, template_id or None)
    rows, truncated = await run_in_threadpool(rates.histogram, request.app.state.db_ro, flt, step_s)
    counts = [0] * steps
    for k, n in rows:
        if 0 <= k < steps:
            counts[k] += n
    return {"since": start.isoformat() + "Z", "until": end.isoformat() + "Z", "step_s": step_s,
            "buckets": [{"t": (start + timedelta(seconds=i * step_s)).isoformat() + "Z", "count": c}
                        for i, c in enumerate(counts)], "total": sum(counts), "truncated": truncated}
