"""GET /health, /info and /metrics: what the server runs with and whether its dependencies
answer. /health waits at most 2 s for each ping (a frozen MariaDB used to hold it for the
60 s read timeout, then say ok) and reports MariaDB's version with the >= 11.7 / VECTOR checks.
Both show the configured LLM's state (agents/llm_probe.py: off, ok or down, 1 s at most); the
LLM is optional, so it does not make /health degraded."""
from __future__ import annotations

import time
from concurrent.futures import TimeoutError as Timeout

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from agents.llm_probe import probe
from db import stats
from db.version import server_info
from retrieval.similar import feedback_summary

router = APIRouter(tags=["status"])


def check(fn, pool=None, timeout_s: float = 2.0) -> dict:
    """One dependency's ping, answered within `timeout_s` whatever the dependency does."""
    start = time.perf_counter()
    try:
        version = pool.submit(fn).result(timeout_s) if pool is not None else fn()
        return {"status": "ok", "version": version, "latency_ms": round((time.perf_counter() - start) * 1e3, 2)}
    except Timeout:
        return {"status": "down", "error": f"no answer within {timeout_s:g} s (frozen or overloaded)"}
    except Exception as exc:  # noqa: BLE001 - health reports any failure as data
        return {"status": "down", "error": str(exc)}


def mariadb_health(state) -> dict:
    """The ping, plus the version check: a server that answers but is older than 11.7 (or has
    no working VECTOR) is `unsupported`, so the drift shows in /health."""
    result = check(state.db.ping, state.health_pool)
    if result["status"] != "ok":
        return result
    if state.mariadb is None or state.mariadb["version"] != result["version"]:
        state.mariadb = server_info(state.db)          # restarted or upgraded since we last looked
    result.update(supported=state.mariadb["supported"], vector=state.mariadb["vector"])
    if not (result["supported"] and result["vector"]):
        result["status"] = "unsupported"
        result["error"] = (f"MariaDB {result['version']}: DevMesh needs >= 11.7 with a working VECTOR; "
                           "point DEVMESH_DB_URL at a newer server or use the managed one")
    return result


def llm_state(state) -> dict:
    """The LLM's probe, off the event loop, answered within 2 s whatever the server does."""
    try:
        return state.health_pool.submit(probe, state.settings.llm, 1.0).result(2.0)
    except Timeout:
        return {"backend": state.settings.llm.backend, "status": "down", "error": "no answer within 2 s"}


@router.get("/health")
def health(request: Request):
    st = request.app.state
    state = {"mariadb": mariadb_health(st), "falkordb": check(st.graph.ping, st.health_pool),
             "embedder": {"status": "ok", "model": st.embedder.name, **st.embed_worker.status()},
             "inventory": {"status": "ok" if not st.topology.problems else "problems", **st.topology.status()},
             "llm": llm_state(st), "kubernetes": st.kube.status()}
    ok = state["mariadb"]["status"] == "ok" and state["falkordb"]["status"] == "ok"
    return JSONResponse({"status": "ok" if ok else "degraded", "dependencies": state}, 200 if ok else 503)


@router.get("/metrics")
def prometheus_metrics(request: Request):
    return Response(request.app.state.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/info")
def info(request: Request):
    st = request.app.state
    return {"version": request.app.version, "canon_version": st.ingestor.canon_version,
            "embedder": {"name": st.embedder.name, "dim": st.embedder.dim, **st.embed_worker.status()},
            "mariadb": st.mariadb or server_info(st.db_ro), "counts": stats.counts(st.db_ro),
            "inventory": st.topology.status(), "kubernetes": st.kube.status(),
            "unmapped": st.ingestor.services.unmapped_summary() if st.ingestor.services else None,
            "enrichment": {"last": st.enrichment.last, "error": st.enrichment.last_error},
            "detectors": {"last": st.detectors.last, "error": st.detectors.last_error},
            "notifications": {"failures": st.notifier.failures}, "llm": llm_state(st),
            "feedback": feedback_summary(st.db_ro),       # verdicts per detector and per ranking rule (issue 21)
            "uptime_s": round(time.time() - st.started, 1)}
