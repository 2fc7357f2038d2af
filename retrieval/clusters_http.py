"""HTTP for exception clusters: GET /clusters (service, status, since; sort count | recency;
keyset paging with `cursor`), GET /clusters/{id} (representative trace with frames, counts
over time, versions, similar clusters, feedback), POST /clusters/{id}/feedback
(accept | reject | partially_correct + notes, stored), POST /clusters/{id}/status."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from db import exception_reads as sql
from retrieval.clusters import detail, page
from retrieval.http import fail, parse_time, split

router = APIRouter(tags=["exceptions"])
_ID = Path(ge=1, le=2**63 - 1)


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["accept", "reject", "partially_correct"]
    notes: str | None = Field(None, max_length=10_000)


class Status(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["new", "regressed", "resolved"]


@router.get("/clusters")
async def list_clusters(request: Request, service: list[str] | None = Query(None),
                        status: list[str] | None = Query(None), since: str | None = Query(None, max_length=64),
                        sort: Literal["count", "recency"] = Query("count"), limit: int = Query(50, ge=1, le=500),
                        cursor: str | None = Query(None, max_length=200)):
    """Exception clusters, most frequent (or most recent) first; `next` is the cursor of the next page."""
    statuses = split(status)
    bad = [s for s in statuses or [] if s not in sql.STATUSES]
    if bad:
        raise fail(400, "invalid_status", f"status={bad[0]!r}: one of {', '.join(sql.STATUSES)}")
    after = parse_time(since, "since")
    try:
        return await run_in_threadpool(page, request.app.state.db_ro, split(service), statuses, after, sort, limit,
                                       cursor)
    except ValueError as exc:
        raise fail(400, "invalid_cursor", str(exc)) from None


@router.get("/clusters/{cluster_id}")
async def get_cluster(request: Request, cluster_id: int = _ID, since: str | None = Query(None, max_length=64)):
    state = request.app.state
    found = await run_in_threadpool(detail, state.db_ro, cluster_id, parse_time(since, "since"), state.embedder)
    if found is None:
        raise fail(404, "not_found", f"no exception cluster {cluster_id}; list them with GET /clusters")
    return found


@router.post("/clusters/{cluster_id}/feedback")
async def post_feedback(request: Request, body: Feedback, cluster_id: int = _ID):
    """Whether the cluster (and its RCA) was right: stored with the notes."""
    db = request.app.state.db
    if await run_in_threadpool(sql.get_cluster, db, cluster_id) is None:
        raise fail(404, "not_found", f"no exception cluster {cluster_id}; list them with GET /clusters")
    feedback_id = await run_in_threadpool(sql.add_feedback, db, cluster_id, body.verdict, body.notes)
    return {"id": feedback_id, "cluster_id": cluster_id, "verdict": body.verdict}


@router.post("/clusters/{cluster_id}/status")
async def post_status(request: Request, body: Status, cluster_id: int = _ID):
    """Mark a cluster resolved (seen again, it becomes regressed: a detector signal) or new."""
    if not await run_in_threadpool(sql.set_status, request.app.state.db, cluster_id, body.status):
        raise fail(404, "not_found", f"no exception cluster {cluster_id}; list them with GET /clusters")
    return {"id": cluster_id, "status": body.status}
