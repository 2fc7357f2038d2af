"""HTTP for what incidents leave behind: GET /incidents/{id}/similar (resolved past incidents
like it, what was found then and the verdict) and GET /incidents/{id}/postmortem (a Markdown
draft)."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from graphs.http import IncidentId, fail
from graphs.postmortem import build as build_postmortem
from retrieval.similar import find_similar

router = APIRouter(tags=["incidents"])


@router.get("/incidents/{incident_id}/similar")
async def similar_incidents(request: Request, incident_id: IncidentId, k: int = Query(5, ge=1, le=50)):
    state = request.app.state
    found = await run_in_threadpool(find_similar, state.db_ro, state.embedder, incident_id, k)
    if found is None:
        raise fail(404, "not_found", f"no incident {incident_id}; list them with GET /incidents")
    return {"incident_id": incident_id, "similar": found}


@router.get("/incidents/{incident_id}/postmortem", response_class=PlainTextResponse,
            responses={200: {"content": {"text/markdown": {}}}})
async def postmortem(request: Request, incident_id: IncidentId):
    """A postmortem draft in Markdown: summary, impact with durations from the rollups,
    timeline with citations, root cause, what went well and badly, action items."""
    state = request.app.state
    text = await run_in_threadpool(build_postmortem, state.db_ro, incident_id, state.embedder)
    if text is None:
        raise fail(404, "not_found", f"no incident {incident_id}; list them with GET /incidents")
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
