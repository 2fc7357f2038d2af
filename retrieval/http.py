"""HTTP reads: GET /query/logs, /search/templates, /search/logs, /templates, /templates/{id}, /events/{id}."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from db import counts, events
from db import templates as template_sql
from db.events import EventFilter
from ingest.normalize import LEVELS, RecordError, parse_duration, parse_timestamp
from retrieval.search import TemplateQuery, find_templates_by_text, search_logs, search_templates

router = APIRouter(tags=["search"])


def fail(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


def parse_time(value: str | None, name: str) -> datetime | None:
    """ISO 8601, epoch, or a duration ago (`15m`, `6h`, `2d`), as naive UTC."""
    if not value:
        return None
    try:
        ago = parse_duration(value)
    except ValueError:
        ago = None
    if ago is not None:
        return (datetime.now(timezone.utc) - ago).replace(tzinfo=None)
    try:
        return parse_timestamp(value)
    except RecordError:
        raise fail(400, "invalid_time", f"{name}={value!r}: use ISO 8601 (2026-01-20T10:00:00Z), "
                   "epoch seconds, or a duration ago such as 15m, 6h, 2d") from None


def split(values: list[str] | None) -> list[str] | None:
    out = [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
    return out or None


def levels(values: list[str] | None) -> list[str] | None:
    out = split(values)
    for level in out or []:
        if level not in LEVELS:
            raise fail(400, "invalid_level", f"level={level!r}: use one of {', '.join(LEVELS)}")
    return out


def _cursor(event: dict) -> str:
    return base64.urlsafe_b64encode(f"{event['ts']}|{event['id']}".encode()).decode()


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        ts, _, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return parse_timestamp(ts), int(event_id)
    except (ValueError, RecordError):
        raise fail(400, "invalid_cursor", "cursor is not one this server returned; start without it") from None


@router.get("/query/logs")
async def query_logs(request: Request, service: list[str] | None = Query(None), host: list[str] | None = Query(None),
                     level: list[str] | None = Query(None), since: str | None = None, until: str | None = None,
                     q: str | None = None, template_id: list[int] | None = Query(None),
                     limit: int = Query(100, ge=1, le=1000), cursor: str | None = None):
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    flt = EventFilter(split(service), split(host), levels(level), parse_time(since, "since"),
                      parse_time(until, "until"), q or None, template_id or None)
    rows = await run_in_threadpool(events.query_events, request.app.state.db_ro, flt, limit, _after(cursor))
    return {"events": rows, "next_cursor": _cursor(rows[-1]) if len(rows) == limit else None}


@dataclass
class TextQuery:
    """What to search for and how many: `q` and `k`, or the original DevMesh's names `query`
    and `limit` for the same parameters (`/search/logs?query=docker+restart&limit=5`)."""

    text: str
    k: int


def _same(name: str, alias: str, a, b):
    if a not in (None, "") and b not in (None, "") and a != b:
        raise fail(400, "conflicting_parameters", f"{name} and {alias} are the same parameter and were given "
                   f"different values ({a!r}, {b!r}); send one of them")
    return a if a not in (None, "") else b


def text_query(q: str = Query("", description="a log line or words (also `query`)"),
               query: str = Query("", description="the same as q"),
               k: int | None = Query(None, ge=1, le=100, description="how many (also `limit`); default 10"),
               limit: int | None = Query(None, ge=1, le=100, description="the same as k")) -> TextQuery:
    text = _same("q", "query", q, query) or ""
    if not text.strip():
        raise fail(400, "missing_query", "q (or query) is required: a log line or words to search for")
    return TextQuery(text, _same("k", "limit", k, limit) or 10)


def _template_query(request: Request, tq: TextQuery, service, level, since, until, examples=2) -> TemplateQuery:
    return TemplateQuery(tq.text, tq.k, split(service), levels(level), parse_time(since, "since"),
                         parse_time(until, "until"), examples, request.app.state.settings.embed.search_ef)


def _vectors(request: Request) -> tuple:
    state = request.app.state
    return state.db_ro, state.embed_worker.table(), state.embedder


@router.get("/search/templates")
async def search_templates_route(request: Request, tq: TextQuery = Depends(text_query),
                                 service: list[str] | None = Query(None), level: list[str] | None = Query(None),
                                 since: str | None = None, until: str | None = None,
                                 examples: int = Query(2, ge=0, le=10)):
    query = _template_query(request, tq, service, level, since, until, examples)

    def run():
        db, table, embedder = _vectors(request)
        return search_templates(db, table, embedder, query)
    return {"templates": await run_in_threadpool(run)}


@router.get("/search/logs")
async def search_logs_route(request: Request, tq: TextQuery = Depends(text_query),
                            service: list[str] | None = Query(None), host: list[str] | None = Query(None),
                            level: list[str] | None = Query(None), since: str | None = None,
                            until: str | None = None, per_template: int = Query(5, ge=1, le=50)):
    query = _template_query(request, tq, service, level, since, until)

    def run():
        db, table, embedder = _vectors(request)
        return search_logs(db, table, embedder, query, split(host), per_template)
    return {"events": await run_in_threadpool(run)}


@router.get("/templates")
async def templates_by_text(request: Request,
                            q: str = Query("", max_length=500, description='words the template text holds, all of '
                                           'them (case-insensitive substrings; "a phrase" in quotes); none: '
                                           'the busiest templates (also `query`)'),
                            query: str = Query("", max_length=500, description="the same as q"),
                            k: int | None = Query(None, ge=1, le=100, description="how many (also `limit`); default 25"),
                            limit: int | None = Query(None, ge=1, le=100, description="the same as k"),
                            service: list[str] | None = Query(None), level: list[str] | None = Query(None),
                            since: str | None = None, until: str | None = None,
                            examples: int = Query(0, ge=0, le=10)):
    """Plain text search over template text (not by meaning: that is /search/templates).
    Variables are masked in templates (`<IP>`, `<NUM>`): search the words around them, or a
    raw line's text with /query/logs?q=."""
    tq = TextQuery(_same("q", "query", q, query) or "", _same("k", "limit", k, limit) or 25)
    query_ = _template_query(request, tq, service, level, since, until, examples)
    found, terms, truncated = await run_in_threadpool(find_templates_by_text, request.app.state.db_ro, query_)
    return {"templates": found, "terms": terms, "truncated": truncated}


@router.get("/templates/{template_id}")
async def get_template(request: Request, template_id: int, examples: int = Query(5, ge=0, le=50)):
    db = request.app.state.db_ro

    def run():
        template = template_sql.get(db, template_id)
        if template is None:
            return None
        template["services"] = sorted(counts.services_of(db, [template_id]).get(template_id, []))
        template["examples"] = events.examples(db, [template_id], examples).get(template_id, []) if examples else []
        return template
    template = await run_in_threadpool(run)
    if template is None:
        raise fail(404, "not_found", f"no template {template_id}; find ids with /search/templates")
    return template


@router.get("/events/{event_id}")
async def get_event(request: Request, event_id: int = Path(ge=1, le=2**64 - 1, description="an event id ([event:ID])"),
                    context: int = Query(5, ge=0, le=50, description="lines before and after, per host and service")):
    """A cited event with its template and its neighbours: the `context` lines before and
    after it on the same host, and on the same service, by timestamp."""
    db = request.app.state.db_ro

    def run():
        found = events.neighbours(db, event_id, context)
        if found is not None:
            found["template"] = template_sql.get(db, found["event"]["template_id"])
        return found
    found = await run_in_threadpool(run)
    if found is None:
        raise fail(404, "not_found", f"no event {event_id}; events are cited as [event:ID] in reports and answers, "
                   "and listed by GET /query/logs (old ones are pruned by retention)")
    return {"event": found["event"], "template": found["template"], "context": context,
            "neighbours": {"host": found["host"], "service": found["service"]}}
