"""POST /analyze/window (one JSON, or Server-Sent Events), GET /changes, GET /summary.

The window is `since` (ISO 8601, epoch, or a duration ago: `30m`) or `duration` back from
`until` (default now); the history it is judged against is `baseline` before it (default
24 h). Everything is read from the minute rollups (db.counts), never a scan of raw events.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from agents import window, window_changes
from graphs.chat import dumps
from ingest.normalize import LEVELS, parse_duration
from ingest.service_map import ServiceMap
from retrieval.http import fail, parse_time

router = APIRouter(tags=["analysis"])
MAX_WINDOW = timedelta(days=7)
MAX_BASELINE = timedelta(days=30)


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str | None = Field(None, min_length=1, max_length=128)
    host: str | None = Field(None, min_length=1, max_length=255)
    level: list[str] | None = None


class WindowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str | None = Field(None, min_length=1, max_length=128)
    host: str | None = Field(None, min_length=1, max_length=255)
    labels: Labels | None = None
    since: str | None = Field(None, max_length=64)
    duration: str | None = Field(None, max_length=16)
    until: str | None = Field(None, max_length=64)
    baseline: str = Field("24h", max_length=16)
    stream: bool = False


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _time(value: str | None, name: str) -> datetime | None:
    """retrieval.http.parse_time, with a moment too far off to compute a 400 as well."""
    try:
        return parse_time(value, name)
    except OverflowError:
        raise fail(400, "invalid_time", f"{name}={value!r} is too far from now; use a time between 1970 and 2200 "
                   "or a shorter duration ago") from None


def _duration(value: str, name: str, most: timedelta) -> timedelta:
    try:
        span = parse_duration(value)
    except (ValueError, OverflowError):
        raise fail(400, "invalid_duration", f"{name}={value!r}: use a duration such as 30m, 6h or 2d") from None
    if span <= timedelta(0) or span > most:
        raise fail(400, "invalid_duration", f"{name}={value!r}: must be above 0 and at most {most.days} days")
    return span


def resolve_window(since: str | None, duration: str | None, until: str | None) -> tuple[datetime, datetime]:
    end = _time(until, "until") or _now()
    if since and duration:
        raise fail(400, "invalid_window", "give since or duration, not both")
    if duration:
        start = end - _duration(duration, "duration", MAX_WINDOW)
    elif since:
        start = _time(since, "since")
    else:
        raise fail(400, "invalid_window", "give the window: since (ISO 8601 or a duration ago such as 30m) "
                   "or duration (back from until, default now)")
    if start >= end:
        raise fail(400, "invalid_window", f"since ({start.isoformat()}Z) must be before until ({end.isoformat()}Z)")
    if end - start > MAX_WINDOW:
        raise fail(400, "invalid_window", f"the window is {end - start}; at most {MAX_WINDOW.days} days")
    return start, end


def canonical(request: Request, service: str | None, host: str | None) -> str | None:
    """An inventory alias or unit (`mysql`, `mariadb.service`) -> the service name records are
    stored under (ingest maps them the same way); a name the inventory does not know stays."""
    inventory = request.app.state.topology.inventory
    if not service or inventory is None:
        return service
    return ServiceMap(inventory).resolve(host or "", service) or service


def _scope(request: Request, body: WindowRequest) -> tuple[list[str] | None, list[str] | None, list[str] | None]:
    labels = body.labels or Labels()
    if body.service and labels.service and body.service != labels.service:
        raise fail(400, "invalid_scope", "service and labels.service differ; give one")
    host = body.host or labels.host
    service = canonical(request, body.service or labels.service, host)
    for level in labels.level or []:
        if level not in LEVELS:
            raise fail(400, "invalid_level", f"labels.level {level!r}: use one of {', '.join(LEVELS)}")
    return ([service] if service else None), ([host] if host else None), labels.level or None


@router.post("/analyze/window")
async def analyze_window(request: Request, body: WindowRequest):
    """Triage the window's templates, then the structured extraction (the LLM writes the
    prose when one is configured). `stream: true` or `Accept: text/event-stream`: SSE events
    `analysis`, `extraction`, `error`, `done`; else one JSON."""
    start, end = resolve_window(body.since, body.duration, body.until)
    baseline = _duration(body.baseline, "baseline", MAX_BASELINE)
    services, hosts, levels = _scope(request, body)
    state = request.app.state
    mask = tuple(state.settings.llm.mask_patterns)
    scope = {"services": services, "hosts": hosts, "levels": levels}
    view = await run_in_threadpool(window.gather, state.db_ro, services, hosts, levels, start, end, baseline)
    streaming = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if not streaming:
        began = time.perf_counter()
        out = await run_in_threadpool(window.run, view, state.llm, mask)
        return {"scope": scope, **out, "elapsed_ms": round((time.perf_counter() - began) * 1e3, 1)}

    async def events():
        began = time.perf_counter()
        try:
            candidates, found = await run_in_threadpool(window.deterministic, view)
            yield {"event": "analysis", "data": dumps({"scope": scope, **window.analysis_dict(view, candidates)})}
            if state.llm is not None:
                yield {"event": "extraction", "data": dumps({"extraction": found.model_dump(), "llm": {
                    "status": "pending"}, "final": False})}
            found, note = await run_in_threadpool(window.with_llm, view, candidates, found, state.llm, mask)
            yield {"event": "extraction", "data": dumps({"extraction": found.model_dump(), "llm": note, "final": True})}
        except Exception as exc:  # noqa: BLE001 - the client gets a code and a message, never a trace
            yield {"event": "error", "data": dumps({"code": type(exc).__name__,
                                                    "message": f"the window could not be analysed: {exc}"})}
        yield {"event": "done", "data": dumps({"elapsed_ms": round((time.perf_counter() - began) * 1e3, 1)})}
    return EventSourceResponse(events(), ping=15)


@router.get("/changes")
async def get_changes(request: Request, service: str | None = Query(None, min_length=1, max_length=128),
                      host: str | None = Query(None, min_length=1, max_length=255),
                      a: str = Query("1h", max_length=16, description="length of the earlier window"),
                      b: str = Query("1h", max_length=16, description="length of the later window, ending at until"),
                      until: str | None = Query(None, max_length=64),
                      limit: int = Query(20, ge=1, le=200)):
    """What changed: templates new, gone, up and down from window a ([until-b-a, until-b))
    to window b ([until-b, until)), each with counts and a significance (-log10 p of a
    binomial test of the split, honest at small counts; >= 2 is significant)."""
    end = _time(until, "until") or _now()
    span_b = _duration(b, "b", MAX_WINDOW)
    span_a = _duration(a, "a", MAX_WINDOW)
    win_b = (end - span_b, end)
    win_a = (win_b[0] - span_a, win_b[0])
    service = canonical(request, service, host)
    found = await run_in_threadpool(window_changes.changes, request.app.state.db_ro, service, host, win_a, win_b, limit)
    return {"service": service, "host": host, **found}


@router.get("/summary")
async def get_summary(request: Request, service: str | None = Query(None, min_length=1, max_length=128),
                      host: str | None = Query(None, min_length=1, max_length=255),
                      since: str = Query("1h", max_length=64), until: str | None = Query(None, max_length=64),
                      baseline: str = Query("24h", max_length=16)):
    """The window in numbers: top templates, error and warning counts, templates first seen
    in it (against `baseline` before it), services heard before but silent in it."""
    start, end = resolve_window(since, None, until)
    history = _duration(baseline, "baseline", MAX_BASELINE)
    service = canonical(request, service, host)
    view = await run_in_threadpool(window.gather, request.app.state.db_ro, [service] if service else None,
                                   [host] if host else None, None, start, end, history)
    return {"service": service, "host": host, **window.summary(view)}
