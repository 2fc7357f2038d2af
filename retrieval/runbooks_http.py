"""HTTP for runbook documents: GET /runbooks (the live documents), GET /runbooks/{id} (one,
with its sections, gone ones last), GET /search/runbooks (sections for a text, services and
template ids)."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from db import runbooks as runbook_sql
from retrieval.http import fail, split
from retrieval.runbook_docs import ID
from retrieval.runbooks import RunbookQuery, find_sections

router = APIRouter(tags=["runbooks"])


@router.get("/runbooks")
async def list_runbooks(request: Request, include_gone: bool = Query(False, description="documents that left the directory too")):
    """Ingested runbook documents (`devmesh runbooks ingest DIR`), with their section counts."""
    docs = await run_in_threadpool(runbook_sql.documents, request.app.state.db_ro, include_gone)
    return {"runbooks": docs}


@router.get("/search/runbooks")
async def search_runbooks(request: Request, q: str = Query("", max_length=2000), service: list[str] | None = Query(None),
                          template: list[int] | None = Query(None, description="template ids (repeated): the "
                                                             "runbooks that name them, through the graph"),
                          k: int = Query(5, ge=1, le=50)):
    """Runbook sections for a text, services and templates, best first; each citable as [runbook:ID#SECTION]."""
    state = request.app.state
    query = RunbookQuery(q, split(service) or [], (template or [])[:50], k=k)
    hits = await run_in_threadpool(find_sections, state.db_ro, state.graph, state.embedder, query)
    return {"sections": hits}


@router.get("/runbooks/{runbook_id}")
async def get_runbook(request: Request, runbook_id: str = Path(max_length=128)):
    if not ID.match(runbook_id):
        raise fail(404, "not_found", f"no runbook {runbook_id!r}: ids are letters, digits, `-`, `_` and `.`; "
                   "list them with GET /runbooks")
    doc = await run_in_threadpool(runbook_sql.document, request.app.state.db_ro, runbook_id)
    if doc is None:
        raise fail(404, "not_found", f"no runbook {runbook_id!r}; list them with GET /runbooks, add one with "
                   "`devmesh runbooks ingest DIR`")
    return doc
