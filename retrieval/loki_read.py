"""The read side of Loki's HTTP API over our events, so Grafana's Loki data source (and
logcli) can point at DevMesh: query_range, query, labels, label values, series.

Shapes as Loki documents them: {"status": "success", "data": {"resultType": "streams" |
"matrix" | "vector", "result": [...], "stats": {}}}; stream values are [unix-ns string,
line]; matrix points [unix seconds, "count"]. A bad query or parameter answers 400 with a
plain-text reason, as Loki does. Work is bounded: a log query reads at most `limit` lines
(max 5000), a metric query at most SCAN_MAX lines (a 400 says to narrow it past that).
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from db import counts, events
from db.events import EventFilter
from ingest.canon import generic
from ingest.normalize import RecordError, parse_timestamp
from retrieval.logql import LABELS, LogQLError, LogQuery, MetricQuery, parse, parse_duration

router = APIRouter(prefix="/loki/api/v1", tags=["loki"])
MAX_LIMIT = 5000
SCAN_MAX = 200_000
MAX_POINTS = 11_000                    # Loki's own limit on points per series
PAGE = 2000


class BadRequest(Exception):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _time(value: str | None, default: datetime, name: str) -> datetime:
    if value in (None, ""):
        return default
    text = value.strip()
    try:
        if text.lstrip("-").replace(".", "", 1).isdigit():
            number = float(text)
            seconds = number / 1e9 if number > 1e14 else number      # unix ns (Loki's default) or seconds
            return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
        return parse_timestamp(text)
    except (RecordError, ValueError, OverflowError, OSError):
        raise BadRequest(f"could not parse '{name}' parameter: {text[:40]!r} is neither unix nanoseconds, "
                         "unix seconds nor RFC3339") from None


def _step(value: str | None, start: datetime, end: datetime) -> float:
    if value in (None, ""):
        return max(1.0, math.ceil((end - start).total_seconds() / 250))
    text = value.strip()
    try:
        seconds = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text).total_seconds()
    except LogQLError:
        raise BadRequest(f"could not parse 'step' parameter: {text[:20]!r}") from None
    if seconds <= 0:
        raise BadRequest("zero or negative query resolution step widths are not accepted")
    if (end - start).total_seconds() / seconds > MAX_POINTS:
        raise BadRequest(f"exceeded maximum resolution of {MAX_POINTS} points per timeseries; raise 'step'")
    return seconds


def _ns(ts: datetime) -> str:
    return str(int(ts.replace(tzinfo=timezone.utc).timestamp() * 1_000_000) * 1000)


def _labels(row: tuple) -> dict:
    _, _, host, service, level, source, _ = row
    return {"host": host, "service": service, "level": level, "source": source or ""}


def _filter(log: LogQuery, since: datetime, until: datetime) -> EventFilter:
    return EventFilter(service=log.equal("service"), host=log.equal("host"), level=log.equal("level"),
                       source=log.equal("source"), since=since, until=until)


def _lines(db, log: LogQuery, since: datetime, until: datetime, want: int, forward: bool, cap: int):
    """Rows that pass every matcher and line filter, in time order, reading pages; raises
    BadRequest when more than `cap` rows would have to be read."""
    flt = _filter(log, since, until)
    out, after, read = [], None, 0
    while len(out) < want:
        page = events.scan(db, flt, PAGE, forward, after)
        read += len(page)
        out += [r for r in page if log.keeps(_labels(r), r[6])]
        if len(page) < PAGE:
            break
        if read >= cap:
            raise BadRequest(f"the query reads more than {cap} lines; narrow the selector or the time range")
        after = (page[-1][1], page[-1][0])
    return out[:want]


def _streams(rows: list[tuple]) -> list[dict]:
    grouped: dict[tuple, list] = defaultdict(list)
    for row in rows:
        labels = _labels(row)
        grouped[tuple(sorted(labels.items()))].append([_ns(row[1]), row[6]])
    return [{"stream": dict(key), "values": values} for key, values in grouped.items()]


def _series_key(labels: dict, by: list[str] | None) -> tuple:
    if by is None:
        return tuple(sorted(labels.items()))
    return tuple(sorted((k, labels[k]) for k in by))


def _matrix(db, query: MetricQuery, start: datetime, end: datetime, step: float) -> list[dict]:
    rows = _lines(db, query.log, start - query.range, end + timedelta(microseconds=1), SCAN_MAX + 1, True, SCAN_MAX)
    if len(rows) > SCAN_MAX:
        raise BadRequest(f"the query counts more than {SCAN_MAX} lines; narrow the selector or the time range")
    points = []
    t = start
    while t <= end:
        points.append(t)
        t += timedelta(seconds=step)
    span = query.range.total_seconds()
    series: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(points))
    for row in rows:
        ts = row[1]
        key = _series_key(_labels(row), query.by)
        # the line counts at every point t with t - range < ts <= t
        first = max(0, math.ceil((ts - start).total_seconds() / step)) if ts > start else 0
        for i in range(first, len(points)):
            if points[i] - timedelta(seconds=span) >= ts:
                break
            if ts <= points[i]:
                series[key][i] += 1
    out = []
    for key, per_point in sorted(series.items()):
        values = [[round(p.replace(tzinfo=timezone.utc).timestamp(), 3), _number(n, query, span)]
                  for p, n in zip(points, per_point) if n]
        if values:
            out.append({"metric": dict(key), "values": values})
    return out


def _number(n: int, query: MetricQuery, span: float) -> str:
    return str(n) if query.function == "count_over_time" else repr(round(n / span, 6))


def _bad(message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status_code=400)


def _success(result_type: str, result: list) -> JSONResponse:
    return JSONResponse({"status": "success", "data": {"resultType": result_type, "result": result, "stats": {}}})


def _limit(limit: int) -> int:
    if not 0 < limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _direction(direction: str) -> bool:
    if direction.lower() not in ("backward", "forward"):
        raise BadRequest("direction must be backward or forward")
    return direction.lower() == "forward"


@router.get("/query_range")
async def query_range(request: Request, query: str = "", start: str | None = None, end: str | None = None,
                      limit: int = 100, direction: str = "backward", step: str | None = None):
    db = request.app.state.db_ro
    try:
        parsed = parse(query)
        until = _time(end, _now(), "end")
        since = _time(start, until - timedelta(hours=1), "start")
        if since > until:
            raise BadRequest("the end timestamp must not be before the start time")
        if isinstance(parsed, MetricQuery):
            result = await run_in_threadpool(_matrix, db, parsed, since, until, _step(step, since, until))
            return _success("matrix", result)
        rows = await run_in_threadpool(_lines, db, parsed, since, until, _limit(limit), _direction(direction),
                                       SCAN_MAX)
        return _success("streams", _streams(rows))
    except (LogQLError, BadRequest) as exc:
        return _bad(f"parse error: {exc}" if isinstance(exc, LogQLError) else str(exc))


@router.get("/query")
async def query_instant(request: Request, query: str = "", time: str | None = None, limit: int = 100,
                        direction: str = "backward"):
    db = request.app.state.db_ro
    try:
        parsed = parse(query)
        at = _time(time, _now(), "time")
        if isinstance(parsed, MetricQuery):
            matrix = await run_in_threadpool(_matrix, db, parsed, at, at, 1.0)
            return _success("vector", [{"metric": s["metric"], "value": s["values"][-1]} for s in matrix])
        rows = await run_in_threadpool(_lines, db, parsed, at - timedelta(hours=1), at, _limit(limit),
                                       _direction(direction), SCAN_MAX)
        return _success("streams", _streams(rows))
    except (LogQLError, BadRequest) as exc:
        return _bad(f"parse error: {exc}" if isinstance(exc, LogQLError) else str(exc))


def _range(start, end) -> tuple[datetime, datetime]:
    until = _time(end, _now(), "end")
    return _time(start, until - timedelta(hours=6), "start"), until


@router.get("/labels")
async def labels(request: Request, start: str | None = None, end: str | None = None):
    try:
        _range(start, end)
    except BadRequest as exc:
        return _bad(str(exc))
    return {"status": "success", "data": sorted(LABELS)}


@router.get("/label/{name}/values")
async def label_values(request: Request, name: str, start: str | None = None, end: str | None = None):
    if name not in LABELS:
        return {"status": "success", "data": []}
    try:
        since, until = _range(start, end)
    except BadRequest as exc:
        return _bad(str(exc))
    values = await run_in_threadpool(events.label_values, request.app.state.db_ro, name, since, until)
    return {"status": "success", "data": values}


@router.get("/series")
async def series(request: Request, match: list[str] = Query(default=[], alias="match[]"),
                 start: str | None = None, end: str | None = None):
    try:
        since, until = _range(start, end)
        selectors = [parse(m) for m in match]
        if any(not isinstance(s, LogQuery) or s.filters for s in selectors):
            raise BadRequest("match[] takes stream selectors only, e.g. {service=\"api\"}")
    except (LogQLError, BadRequest) as exc:
        return _bad(str(exc))
    rows = await run_in_threadpool(events.series, request.app.state.db_ro, since, until)
    found = []
    for host, service, level, source in rows:
        labels = {"host": host, "service": service, "level": level, "source": source or ""}
        if not selectors or any(s.keeps(labels, "") for s in selectors):
            found.append(labels)
    return {"status": "success", "data": found}


def _patterns(db, log: LogQuery, since: datetime, until: datetime, step: float) -> list[dict]:
    rows = counts.pattern_minutes(db, log.equal("service"), log.equal("host"), log.equal("level"), since, until,
                                  SCAN_MAX + 1)
    if len(rows) > SCAN_MAX:
        raise BadRequest(f"more than {SCAN_MAX} pattern samples; narrow the selector or the time range")
    samples: dict[tuple[int, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    origin = since.replace(tzinfo=timezone.utc).timestamp()
    for bucket, service, host, level, template_id, template, n in rows:
        if not log.keeps({"host": host, "service": service, "level": level, "source": ""}, ""):
            continue
        at = bucket.replace(tzinfo=timezone.utc).timestamp()
        slot = int(origin + ((at - origin) // step) * step)
        samples[(template_id, template)][slot] += int(n)
    out = [{"pattern": generic(text).replace("<*>", "<_>"), "samples": [[t, n] for t, n in sorted(by.items())]}
           for (_, text), by in samples.items()]
    return sorted(out, key=lambda p: -sum(n for _, n in p["samples"]))


@router.get("/patterns")
async def patterns(request: Request, query: str = "", start: str | None = None, end: str | None = None,
                   step: str | None = None):
    """Loki's patterns API, backed by our templates (placeholders as `<_>`), counted from the
    minute rollups: samples are [unix seconds, count] per step."""
    try:
        parsed = parse(query)
        if not isinstance(parsed, LogQuery) or parsed.filters:
            raise BadRequest("patterns take a stream selector only, e.g. {service=\"api\"}")
        if any(m.label == "source" for m in parsed.matchers):
            raise BadRequest("patterns are counted per host, service and level; the source label is not kept there")
        since, until = _range(start, end)
        width = max(60.0, _step(step, since, until))                  # rollups are per minute
        result = await run_in_threadpool(_patterns, request.app.state.db_ro, parsed, since, until, width)
    except (LogQLError, BadRequest) as exc:
        return _bad(f"parse error: {exc}" if isinstance(exc, LogQLError) else str(exc))
    return {"status": "success", "data": result}
