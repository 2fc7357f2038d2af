"""The chat's exception route: "what is this exception and where in the code?" The exception
clusters of the window (newest first), each with its type, message, count and status, the
event that carries its stack trace, and where in the code it most likely comes from: the
kept RCA, else the deterministic RCA computed now from the indexed code (nothing is
written: the chat reads through the read-only pool)."""
from __future__ import annotations

import logging

from langgraph.runtime import Runtime

from agents.rca_cluster import ClusterNotFound, failure_of
from agents.rca_run import rca_for
from graphs.chat_steps import ChatState, answer, call, entities, error_lines
from tools.exceptions import exception_clusters

log = logging.getLogger(__name__)
SHOWN = 3                      # clusters with their place in the code; more are listed by name


def _computed(ctx, cluster_id: int) -> dict | None:
    """The deterministic RCA's likely root cause, not stored (None when there is no code to
    point at: the service's checkout was never indexed)."""
    try:
        rca = rca_for(ctx.db, ctx.embedder, failure_of(ctx.db, cluster_id), cluster_id=None, mask=ctx.mask_patterns)
    except ClusterNotFound:
        return None
    root = rca.get("likely_root_cause") or {}
    if not root.get("file_path"):
        return None
    return {**root, "version": rca.get("version"), "written_by": "deterministic (computed now)"}


def exceptions(state: ChatState, runtime: Runtime) -> dict:
    ctx, e = runtime.context.tools, entities(state)
    r = call("exception_clusters", exception_clusters, ctx, service=e.services or None, since=e.since, until=e.until)
    scope = (f" on {', '.join(e.services)}" if e.services else "") + (f" ({e.window_text})" if e.window_text
                                                                       else " in the last 24 hours")
    if r.status != "ok":                         # no stack trace: the error lines, saying so
        more, ids = error_lines(ctx, e.services[0] if e.services else None, e.hosts[0] if e.hosts else None,
                                e.since, e.until)
        return answer([f"No exception with a stack trace was logged{scope}; the error lines instead.", *more], ids)
    lines = [f"**{len(r.data)} exception cluster{'s' * (len(r.data) != 1)}**{scope}, newest first:"]
    cites: list[str] = []
    for n, c in enumerate(r.data):
        versions = f", versions {', '.join(str(v) for v in c['versions'] if v)}" if any(c["versions"]) else ""
        lines.append(f"- **{c['exception_type']}** in {c['service']} [event:{c['event_id']}]: "
                     f"{c['message_template'][:200]} ({c['count']}x, {c['status']}, last {c['last_seen'][:16].replace('T', ' ')} UTC"
                     f"{versions}; `devmesh clusters show {c['cluster_id']}`)")
        cites.append(f"event:{c['event_id']}")
        if n >= SHOWN:
            continue
        where = c["code"] or _computed(ctx, c["cluster_id"])
        if where is None:
            lines.append(f"  Where in the code: unknown, {c['service']}'s code is not indexed "
                         f"(`devmesh code index PATH --service {c['service']}`).")
            continue
        first, last = (where.get("line_range") or [None, None])[:2]
        lines.append(f"  Most likely in `{where['file_path']}` `{where['symbol']}` lines {first}-{last}"
                     f" (confidence {float(where.get('confidence') or 0):.2f}, {where.get('written_by')}): "
                     f"{str(where.get('reasoning') or '')[:300]}")
    return answer(lines, cites)
