"""One RCA, computed once per (cluster, version) and kept (db/code_index.rca_results): gather
the view (retrieval/rca_inputs.py), build the deterministic RCA (agents/rca.py), let the LLM
write over the same candidates when one is configured (agents/rca_llm.py), store it.
`refresh` computes it again (after a re-index, or a model change)."""
from __future__ import annotations

from dataclasses import dataclass, field

from agents.rca import build
from agents.rca_llm import explain
from db import code_index as sql
from db.pool import Database
from retrieval.rca_inputs import gather


@dataclass(frozen=True, kw_only=True)
class Failure:
    """One exception as the RCA reads it: frames innermost first; events are the log lines
    around it ({id, message}); exception_event_ids the events that carry the trace."""
    service: str
    version: str | None
    exception_type: str
    message: str
    frames: list[dict]
    events: list[dict] = field(default_factory=list)
    exception_event_ids: list[int] = field(default_factory=list)


def rca_for(db: Database, embedder, failure: Failure, cluster_id: int | None = None, llm=None,
            mask: tuple[str, ...] = (), refresh: bool = False, llm_name: str = "llm") -> dict:
    key = failure.version or "unversioned"
    if cluster_id is not None and not refresh:
        cached = sql.cached_rca(db, cluster_id, key)
        if cached is not None:
            return {**cached, "cached": True}
    view = gather(db, embedder, failure.service, failure.version, failure.exception_type, failure.message,
                  failure.frames, failure.events, failure.exception_event_ids, cluster_id)
    rca = build(view, mask)
    llm_status = None
    if llm is not None:
        rca, llm_status = explain(llm, view, rca, mask, llm_name)
    if llm_status is not None:
        rca["llm"] = llm_status
    if cluster_id is not None:
        sql.store_rca(db, cluster_id, key, rca, rca.get("written_by", "deterministic"))
    return {**rca, "cached": False}
