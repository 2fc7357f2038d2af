"""HTTP for incidents: list, read (with report), open by hand, re-investigate, feedback, and
the lifecycle: acknowledge, snooze, resolve (db/lifecycle.py)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from db import graph as cypher
from db import incidents as incident_sql
from db import lifecycle
from db.graph import GraphUnavailable
from ingest.normalize import clean_text
from retrieval.clusters import of_incident as incident_clusters
from retrieval.http import parse_time, split

router = APIRouter(tags=["incidents"])
STATUSES = ("open", "investigating", "reported", "closed")
log = logging.getLogger(__name__)


def fail(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


# every field bounded by the column it lands in (the OpenAPI schema says so too), lone
# surrogates cleaned: a surrogate title failed the insert, one in a comment was stored as NULL
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(clean_text)]
IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="an incident id")]


class NewIncident(BaseModel):
    service: Name | None = Field(None, description="omit for a fleet-wide incident")
    host: Name | None = None
    start: str | None = Field(None, max_length=64, description="ISO 8601; default: 15 minutes before `end`")
    end: str | None = Field(None, max_length=64, description="ISO 8601; default: now")
    title: Annotated[str, Field(max_length=255), AfterValidator(clean_text)] | None = None
    severity: Literal["info", "warning", "error", "critical"] = "error"


class Feedback(BaseModel):
    verdict: Literal["accept", "reject", "partial"]
    root_cause_service: Name | None = None
    root_cause_host: Name | None = None
    comment: Annotated[str, Field(max_length=4000), AfterValidator(clean_text)] | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Snooze(BaseModel):
    minutes: int = Field(60, ge=1, le=7 * 24 * 60, description="how long; then it is open again")


@router.get("/incidents")
async def list_incidents(request: Request, status: list[str] | None = Query(None), service: str | None = None,
                         since: str | None = None, limit: int = Query(100, ge=1, le=1000),
                         state: list[str] | None = Query(None, description="open, acknowledged, snoozed, resolved")):
    wanted, states = split(status), split(state)
    for value in wanted or []:
        if value not in STATUSES:
            raise fail(400, "invalid_status", f"status={value!r}: use one of {', '.join(STATUSES)}")
    for value in states or []:
        if value not in incident_sql.STATES:
            raise fail(400, "invalid_state", f"state={value!r}: use one of {', '.join(incident_sql.STATES)}")
    rows = await run_in_threadpool(incident_sql.listing, request.app.state.db_ro, wanted, service,
                                   parse_time(since, "since"), limit, states)
    return {"incidents": rows}


@router.get("/incidents/{incident_id}")
async def get_incident(request: Request, incident_id: IncidentId):
    state = request.app.state

    def run():
        incident = incident_sql.get(state.db_ro, incident_id)
        if incident is None:
            return None
        incident["signals"] = incident_sql.signals(state.db_ro, incident_id)
        incident["clusters"] = incident_clusters(state.db_ro, incident, incident["signals"])   # exceptions in it
        incident["report"] = incident_sql.latest_report(state.db_ro, incident_id)
        try:
            incident["graph"] = cypher.incident_links(state.graph, incident_id)
        except GraphUnavailable:
            incident["graph"] = None
        return incident
    incident = await run_in_threadpool(run)
    if incident is None:
        raise fail(404, "not_found", f"no incident {incident_id}; list them with GET /incidents")
    return incident


@router.post("/incidents", status_code=201)
async def open_incident(request: Request, body: NewIncident):
    """Open an incident by hand (or from an alert); the worker pool investigates it."""
    end = parse_time(body.end, "end") or _now()
    start = parse_time(body.start, "start") or end - timedelta(minutes=15)
    if start >= end:
        raise fail(400, "invalid_window", "start must be before end")
    title = body.title or f"reported by hand: {body.service or 'whole fleet'}"
    state = request.app.state

    def run() -> int:
        with state.db.transaction() as cur:
            return incident_sql.open_incident(cur, title[:255], "manual", body.severity, body.service, body.host,
                                              [body.service] if body.service else [], start, end, _now())
    incident_id = await run_in_threadpool(run)
    state.investigations.wake()
    return {"id": incident_id, "status": "open"}


@router.post("/incidents/{incident_id}/investigate", status_code=202)
async def reinvestigate(request: Request, incident_id: IncidentId):
    if not await run_in_threadpool(incident_sql.requeue, request.app.state.db, incident_id):
        raise fail(404, "not_found", f"no incident {incident_id}")
    request.app.state.investigations.wake()
    return {"id": incident_id, "status": "open"}


@router.post("/incidents/{incident_id}/feedback", status_code=201)
async def feedback(request: Request, incident_id: IncidentId, body: Feedback):
    if body.verdict == "reject" and not body.root_cause_service:
        raise fail(400, "missing_root_cause", "a rejection says what the root cause was: root_cause_service")
    db = request.app.state.db
    if await run_in_threadpool(incident_sql.get, db, incident_id) is None:
        raise fail(404, "not_found", f"no incident {incident_id}")
    feedback_id = await run_in_threadpool(incident_sql.add_feedback, db, incident_id, body.verdict,
                                          body.root_cause_service, body.root_cause_host, body.comment)
    return {"id": feedback_id, "incident_id": incident_id}


def _move(request: Request, incident_id: int, action: str, minutes: int | None = None) -> dict:
    db, now = request.app.state.db, _now()
    until = now + timedelta(minutes=minutes) if minutes else None
    try:
        with db.transaction() as cur:
            moved = lifecycle.transition(cur, incident_id, action, now, "person", until)
    except lifecycle.InvalidTransition as exc:
        raise fail(409, "invalid_transition", f"{exc}; see its state with GET /incidents/{incident_id}")
    if moved is None:
        raise fail(404, "not_found", f"no incident {incident_id}; list them with GET /incidents")
    log.info("incident %s: %s -> %s by hand", incident_id, moved[0], moved[1])
    return incident_sql.get(db, incident_id)


@router.post("/incidents/{incident_id}/ack")
async def acknowledge(request: Request, incident_id: IncidentId):
    """Someone is on it: it still takes signals of its fault, and is still investigated."""
    return await run_in_threadpool(_move, request, incident_id, "ack")


@router.post("/incidents/{incident_id}/snooze")
async def snooze(request: Request, incident_id: IncidentId, body: Snooze | None = None):
    """Quiet until `minutes` from now (default 60; no notifications), then open again."""
    return await run_in_threadpool(_move, request, incident_id, "snooze", (body or Snooze()).minutes)


@router.post("/incidents/{incident_id}/resolve")
async def resolve(request: Request, incident_id: IncidentId):
    """Over: it takes no new signals; a new one of the same kind opens a new incident."""
    return await run_in_threadpool(_move, request, incident_id, "resolve")
