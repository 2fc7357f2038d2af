"""HTTP for the topology and for hybrid retrieval: /graph/*, /search/hybrid, /context."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from db import graph as cypher
from retrieval.http import TextQuery, fail, levels, parse_time, split, text_query
from retrieval.hybrid import HybridQuery, hybrid_search
from retrieval.packer import pack
from retrieval.topology import impact

router = APIRouter(tags=["graph"])


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _known(request: Request, name: str) -> None:
    inv = request.app.state.topology.inventory
    if inv is not None and name not in inv.services and name not in {h for s in inv.services.values()
                                                                      for h in s.hosts}:
        raise fail(404, "unknown_node", f"{name!r} is not a service or host in the inventory; "
                   "see GET /graph/services")


@router.get("/graph/services")
async def graph_services(request: Request):
    return {"services": await run_in_threadpool(cypher.services, request.app.state.graph)}


@router.get("/graph/neighborhood")
async def graph_neighborhood(request: Request, node: str, depth: int = Query(1, ge=1, le=cypher.MAX_DEPTH)):
    """Nodes and edges around a service or host; inferred edges say so (`inferred`, `confidence`)."""
    result = await run_in_threadpool(cypher.neighborhood, request.app.state.graph, node, depth)
    if not result:
        raise fail(404, "unknown_node", f"no service or host named {node!r} in the graph; see GET /graph/services")
    return result


@router.get("/graph/impact")
async def graph_impact(request: Request, service: str):
    _known(request, service)
    return await run_in_threadpool(impact, request.app.state.graph, service)


@router.get("/graph/path")
async def graph_path(request: Request, source: str = Query(..., alias="from"), target: str = Query(..., alias="to")):
    nodes = await run_in_threadpool(cypher.path, request.app.state.graph, source, target)
    return {"from": source, "to": target, "path": nodes}


@router.post("/graph/reload")
async def graph_reload(request: Request):
    """Re-read inventory.yaml, validate it, load it into FalkorDB, remap ingest."""
    topology = request.app.state.topology
    try:
        summary = await run_in_threadpool(topology.reload)
    except topology.errors as exc:
        raise HTTPException(422, detail={"code": "invalid_inventory", "message": f"{topology.path} is invalid; "
                                         "nothing was changed", "detail": exc.problems}) from None
    return {"inventory": str(topology.path), **summary}


@router.get("/search/hybrid")
async def search_hybrid(request: Request, tq: TextQuery = Depends(text_query),
                        service: list[str] | None = Query(None),
                        level: list[str] | None = Query(None), since: str | None = None, until: str | None = None,
                        depth: int = Query(2, ge=1, le=cypher.MAX_DEPTH)):
    state = request.app.state
    query = HybridQuery(tq.text, split(service), levels(level), parse_time(since, "since"),
                        parse_time(until, "until"), tq.k, depth, ef_search=state.settings.embed.search_ef)

    def run():
        return hybrid_search(state.db_ro, state.embed_worker.table(), state.embedder, state.graph, query, _now())
    return {"evidence": [e.as_dict() for e in await run_in_threadpool(run)]}


@router.get("/context")
async def context(request: Request, service: str, since: str | None = None, until: str | None = None,
                  budget: int = Query(2000, ge=100, le=32000), depth: int = Query(1, ge=1, le=cypher.MAX_DEPTH)):
    """The context packer: evidence about a service and its neighbours, under a token budget."""
    end = parse_time(until, "until") or _now()
    start = parse_time(since, "since") or end - timedelta(hours=1)
    state = request.app.state
    result = await run_in_threadpool(pack, state.db_ro, state.graph, service, start, end, budget, depth)
    return result.as_dict()
