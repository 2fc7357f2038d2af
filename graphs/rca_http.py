"""HTTP for the RCA of an exception cluster: GET /clusters/{id}/rca?version=V&refresh=1, the
RCA JSON (agents/rca.py), computed once per (cluster, version) and kept; an LLM, when
configured, writes over the same candidates (agents/rca_llm.py)."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from agents.rca_cluster import ClusterNotFound, cluster_rca
from retrieval.http import fail

router = APIRouter(tags=["exceptions"])


@router.get("/clusters/{cluster_id}/rca")
async def get_cluster_rca(request: Request, cluster_id: int = Path(ge=1, le=2**63 - 1),
                          version: str | None = Query(None, max_length=128, description="default: the newest event's"),
                          refresh: bool = Query(False, description="compute it again instead of the kept one")):
    """Where in the code the cluster's exception most likely comes from, at the version that logged it."""
    state = request.app.state
    settings = state.settings
    try:
        return await run_in_threadpool(cluster_rca, state.db, state.embedder, cluster_id, version, state.llm,
                                       tuple(settings.llm.mask_patterns), refresh, settings.llm.model)
    except ClusterNotFound as exc:
        raise fail(404, "not_found", str(exc)) from None
