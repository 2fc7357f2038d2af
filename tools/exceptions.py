"""The exception tool for on-call questions: the exception clusters of a window (stack
traces joined at ingest and grouped by fingerprint, ingest/exceptions.py), most recent
first, each with its kept RCA's likely location in the code when one was computed.
Read-only, over db/exception_reads.py and db/code_index.py; returns a ToolResult."""
from __future__ import annotations

from datetime import datetime, timedelta

from db import code_index as code_sql
from db import exception_reads as clusters
from tools.catalog import ToolContext
from tools.results import ToolResult, capped


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if isinstance(value, datetime) else value


def _where(rca: dict | None) -> dict | None:
    root = (rca or {}).get("likely_root_cause")
    if not root or not root.get("file_path"):
        return None
    return {k: root.get(k) for k in ("file_path", "symbol", "line_range", "confidence", "reasoning")} | {
        "version": rca.get("version"), "written_by": rca.get("written_by")}


def exception_clusters(ctx: ToolContext, service: list[str] | None = None, since: datetime | None = None,
                       until: datetime | None = None, limit: int = 5) -> ToolResult:
    """Exception clusters seen in [since, until) (the last 24 hours by default), newest
    first: type, message template, count, status, versions, the representative event and,
    when an RCA was kept for it, where in the code it most likely comes from (`code`)."""
    end = until or ctx.now()
    start = since or end - timedelta(hours=24)
    searched = {"service": service, "since": start, "until": end, "limit": limit}
    rows = [c for c in clusters.list_clusters(ctx.db, service or None, None, start, "recency", 50)
            if c["first_seen"] < end][:min(limit, 20)]
    found = [{"cluster_id": c["id"], "service": c["service"], "exception_type": c["exception_type"],
              "message_template": c["message_template"], "count": c["total_count"], "status": c["status"],
              "first_seen": _iso(c["first_seen"]), "last_seen": _iso(c["last_seen"]),
              "event_id": c["representative_event_id"],
              "versions": [v["version"] for v in clusters.versions(ctx.db, c["id"])[:3]],
              "code": _where(next(iter(code_sql.kept_rcas(ctx.db, c["id"])), None))} for c in rows]
    if not found:
        return ToolResult("no_data", [], searched, hint="no exception (stack trace) was logged in the window")
    return capped(found, searched)
