"""Incident tools for on-call questions: the incidents still open with their ranked root
causes, and the finished investigation of the newest incident that involves a service.
Read-only, over db/incidents.py; each returns a ToolResult."""
from __future__ import annotations

from datetime import datetime

from db import incidents as incident_sql
from tools.catalog import ToolContext
from tools.results import ToolResult, capped

NOT_RESOLVED = ["open", "acknowledged", "snoozed"]      # the lifecycle states an on-call still owns


def _ranked(report: dict | None, top: int = 3) -> dict | None:
    """What a report concluded, in the fields an answer cites: hypothesis, confidence and the
    ranked candidates with their reasons and evidence template ids."""
    if not report:
        return None
    return {"report_id": report.get("id"), "written_by": report.get("written_by"),
            "root_cause_service": report.get("root_cause_service"), "root_cause_host": report.get("root_cause_host"),
            "root_cause_hypothesis": report.get("root_cause_hypothesis"), "confidence": report.get("confidence"),
            "candidates": [{"service": c["service"], "host": c.get("host"), "score": c.get("score"),
                            "reasons": list(c.get("reasons") or [])[:3],
                            "template_ids": list(c.get("evidence_template_ids") or [])[:3]}
                           for c in (report.get("candidates") or [])[:top]],
            "evidence_template_ids": list(report.get("evidence_template_ids") or [])[:5],
            "suggested_actions": list(report.get("suggested_actions") or [])[:3]}


def open_incidents(ctx: ToolContext, limit: int = 5) -> ToolResult:
    """Incidents not resolved (open, acknowledged, snoozed), newest first, each with its
    latest report's ranked root causes (`conclusion`, None while not investigated yet)."""
    searched = {"state": NOT_RESOLVED, "limit": limit}
    rows = incident_sql.listing(ctx.db, state=NOT_RESOLVED, limit=min(limit, 20))
    found = [{"incident_id": i["id"], "title": i["title"], "severity": i["severity"], "state": i["state"],
              "status": i["status"], "services": i["services"], "opened_at": i["opened_at"],
              "conclusion": _ranked(incident_sql.latest_report(ctx.db, i["id"]))} for i in rows]
    if not found:
        return ToolResult("no_data", [], searched, hint="no incident is open, acknowledged or snoozed")
    return capped(found, searched)


def service_root_cause(ctx: ToolContext, service: str, since: datetime | None = None,
                       until: datetime | None = None, look_back: int = 10) -> ToolResult:
    """The newest incident involving `service` (opened in [since, until) when given) whose
    investigation finished, with what its report concluded; `newer` lists the incidents
    opened after it that have no report yet."""
    searched = {"service": service, "since": since, "until": until}
    rows = [i for i in incident_sql.listing(ctx.db, service=service, since=since, limit=look_back)
            if until is None or datetime.fromisoformat(i["opened_at"].rstrip("Z")) < until]
    newer: list[int] = []
    for incident in rows:
        report = incident_sql.latest_report(ctx.db, incident["id"])
        if report is None:
            newer.append(incident["id"])
            continue
        return ToolResult("ok", {"incident_id": incident["id"], "title": incident["title"],
                                 "severity": incident["severity"], "state": incident["state"],
                                 "opened_at": incident["opened_at"], "window_start": incident["window_start"],
                                 "window_end": incident["window_end"], "conclusion": _ranked(report),
                                 "newer": newer}, searched)
    hint = (f"incidents {', '.join(f'[incident:{n}]' for n in newer)} involve {service} but are not investigated yet"
            if newer else f"no incident involves {service}")
    return ToolResult("no_data", {"newer": newer}, searched, hint=hint)
