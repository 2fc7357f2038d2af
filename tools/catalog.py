"""Read-only tools over retrieval/ and db/, each returning a ToolResult. They read through
the read-only database user; none of them can write. Agents and the chat graph call these
(the LangChain wrappers for ReAct agents come with the LLM work)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from db import counts, events
from db import graph as cypher
from db import incidents as incident_sql
from db import templates as template_sql
from db.events import EventFilter
from db.graph import Graph, GraphUnavailable
from db.pool import Database
from ingest.embedders import Embedder
from retrieval.runbooks import RunbookQuery, find_sections
from retrieval.search import TemplateQuery, search_templates as knn_templates
from retrieval.topology import impact
from tools.results import ToolResult, capped


@dataclass
class ToolContext:
    db: Database                       # the read-only pool
    graph: Graph | None
    embedder: Embedder
    vectors_table: Callable[[], str]
    now: Callable[[], datetime]
    mask_patterns: tuple[str, ...] = ()     # extra regexes redacted before any model reads tool output


def _window(ctx: ToolContext, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or ctx.now()
    return since or end - timedelta(hours=1), end


def search_templates(ctx: ToolContext, query: str, services: list[str] | None = None, k: int = 5) -> ToolResult:
    searched = {"query": query, "services": services, "k": k}
    hits = knn_templates(ctx.db, ctx.vectors_table(), ctx.embedder, TemplateQuery(query, k, services, examples=1))
    return capped([{"template_id": h["id"], "template": h["template"], "level": h["level"],
                    "similarity": h["similarity"], "services": h["services"], "count": h["total_count"],
                    "example": h["examples"][0]["message"] if h["examples"] else None,
                    "example_event_id": h["examples"][0]["id"] if h["examples"] else None} for h in hits], searched)


def query_logs(ctx: ToolContext, service: str | None = None, host: str | None = None, level: list[str] | None = None,
               since: datetime | None = None, until: datetime | None = None, q: str | None = None,
               limit: int = 20) -> ToolResult:
    start, end = _window(ctx, since, until)
    searched = {"service": service, "host": host, "level": level, "since": start, "until": end, "q": q}
    rows = events.query_events(ctx.db, EventFilter([service] if service else None, [host] if host else None, level,
                                                   start, end, q), min(limit, 100))
    return capped([{"event_id": r["id"], "ts": r["ts"], "service": r["service"], "host": r["host"],
                    "level": r["level"], "message": r["message"], "template_id": r["template_id"]} for r in rows],
                  searched)


def get_template_stats(ctx: ToolContext, template_id: int, since: datetime | None = None,
                       until: datetime | None = None) -> ToolResult:
    """One template: its text, level, first/last seen, and counts per service, host and 5-minute step."""
    start, end = _window(ctx, since, until)
    searched = {"template_id": template_id, "since": start, "until": end}
    info = template_sql.get(ctx.db, template_id)
    if info is None:
        return ToolResult("no_data", None, searched, hint=f"no template {template_id}")
    rows = counts.template_minutes(ctx.db, template_id, start, end)
    where: dict[str, int] = {}
    steps: dict[str, int] = {}
    for minute, service, host, n in rows:
        where[f"{service}@{host}"] = where.get(f"{service}@{host}", 0) + n
        step = minute.replace(minute=minute.minute - minute.minute % 5).strftime("%H:%M")
        steps[step] = steps.get(step, 0) + n
    return ToolResult("ok", {"template_id": template_id, "template": info["template"], "level": info["level"],
                             "first_seen": info.get("first_seen"), "last_seen": info.get("last_seen"),
                             "in_window": sum(where.values()), "by_service_host": where, "per_5_minutes": steps},
                      searched)


def get_log_context(ctx: ToolContext, event_id: int, before: int = 5, after: int = 5) -> ToolResult:
    """The lines of the same host just before and after an event."""
    searched = {"event_id": event_id, "before": before, "after": after}
    event, lines = events.around(ctx.db, event_id, min(before, 20), min(after, 20))
    if event is None:
        return ToolResult("no_data", None, searched, hint=f"no event {event_id}")
    return capped([{"event_id": e["id"], "ts": e["ts"], "service": e["service"], "level": e["level"],
                    "message": e["message"], "template_id": e["template_id"], "is_the_event": e["id"] == event_id}
                   for e in lines], searched)


def get_service_overview(ctx: ToolContext, service: str, since: datetime | None = None,
                         until: datetime | None = None) -> ToolResult:
    start, end = _window(ctx, since, until)
    searched = {"service": service, "since": start, "until": end}
    rows = counts.active_templates(ctx.db, start, end, [service], 50)
    if not rows:
        return ToolResult("no_data", None, searched, hint=f"no lines from {service} in the window")
    info = template_sql.get_many(ctx.db, [t for _, t, _, _ in rows])
    levels: dict[str, int] = {}
    for _s, _t, n, lvl in rows:
        levels[lvl] = levels.get(lvl, 0) + n
    top = [{"template_id": t, "template": info[t]["template"], "count": n, "level": lvl}
           for _s, t, n, lvl in rows[:10] if t in info]
    return ToolResult("ok", {"service": service, "lines": sum(levels.values()), "by_level": levels,
                             "top_templates": top}, searched)


def compare_windows(ctx: ToolContext, service: str | None, before: tuple[datetime, datetime],
                    after: tuple[datetime, datetime]) -> ToolResult:
    """What changed: templates new in `after`, gone since `before`, and ones that spiked."""
    searched = {"service": service, "before": before, "after": after}
    services = [service] if service else None
    old = {(s, t): n for s, t, n, _ in counts.active_templates(ctx.db, before[0], before[1], services, 1000)}
    new = {(s, t): (n, lvl) for s, t, n, lvl in counts.active_templates(ctx.db, after[0], after[1], services, 1000)}
    scale = (after[1] - after[0]) / max(before[1] - before[0], timedelta(seconds=1))
    appeared = [(k, n, lvl) for k, (n, lvl) in new.items() if k not in old]
    vanished = [(k, n) for k, n in old.items() if k not in new]
    spiking = [(k, n, lvl, old[k]) for k, (n, lvl) in new.items() if k in old and n >= 3 * max(1, old[k] * scale)]
    ids = list({k[1] for k, *_ in appeared + vanished + spiking})
    info = template_sql.get_many(ctx.db, ids)

    def row(key, **extra):
        return {"service": key[0], "template_id": key[1], "template": info.get(key[1], {}).get("template"), **extra}
    data = {"new": [row(k, count=n, level=lvl) for k, n, lvl in sorted(appeared, key=lambda x: -x[1])[:15]],
            "vanished": [row(k, count_before=n) for k, n in sorted(vanished, key=lambda x: -x[1])[:10]],
            "spiking": [row(k, count=n, level=lvl, count_before=b) for k, n, lvl, b in
                        sorted(spiking, key=lambda x: -x[1])[:10]]}
    if not any(data.values()):
        return ToolResult("no_data", data, searched, hint="nothing changed between the two windows")
    return ToolResult("ok", data, searched)


def graph_neighborhood(ctx: ToolContext, node: str, depth: int = 1) -> ToolResult:
    searched = {"node": node, "depth": depth}
    try:
        found = cypher.neighborhood(ctx.graph, node, depth) if ctx.graph else {}
    except GraphUnavailable as exc:
        return ToolResult("error", None, searched, hint=str(exc))
    return ToolResult("ok", found, searched) if found else ToolResult("no_data", None, searched,
                                                                        hint=f"{node} is not in the topology")


def blast_radius(ctx: ToolContext, service: str) -> ToolResult:
    searched = {"service": service}
    try:
        return ToolResult("ok", impact(ctx.graph, service), searched) if ctx.graph else \
            ToolResult("no_data", None, searched, hint="no topology graph")
    except GraphUnavailable as exc:
        return ToolResult("error", None, searched, hint=str(exc))


def upstream_dependencies(ctx: ToolContext, service: str) -> ToolResult:
    """What a service depends on, nearest first (owned and inferred edges)."""
    searched = {"service": service}
    radius = blast_radius(ctx, service)
    if radius.status != "ok":
        return radius
    upstream = radius.data["upstream"]
    return ToolResult("ok", upstream, searched) if upstream else ToolResult(
        "no_data", [], searched, hint=f"{service} depends on nothing in the topology")


def get_incident(ctx: ToolContext, incident_id: int) -> ToolResult:
    searched = {"incident_id": incident_id}
    incident = incident_sql.get(ctx.db, incident_id)
    if incident is None:
        return ToolResult("no_data", None, searched, hint=f"no incident {incident_id}")
    incident["report"] = incident_sql.latest_report(ctx.db, incident_id)
    return ToolResult("ok", incident, searched)


def latest_incidents(ctx: ToolContext, limit: int = 5) -> ToolResult:
    return capped(incident_sql.listing(ctx.db, None, None, None, limit), {"limit": limit})


def find_runbooks(ctx: ToolContext, services: list[str], query: str = "") -> ToolResult:
    """The runbooks for these services (the inventory's and the ingested documents'), each
    with its best matching sections ({runbook_section: "ID#SECTION", heading, score}), cited
    as [runbook:ID#SECTION]."""
    searched = {"services": services, "query": query}
    try:
        found = cypher.runbooks_for(ctx.graph, services) if ctx.graph else []
    except GraphUnavailable as exc:
        return ToolResult("error", None, searched, hint=str(exc))
    sections = find_sections(ctx.db, ctx.graph, ctx.embedder, RunbookQuery(query, services, k=8))
    by_id = {r["id"]: {**r, "sections": []} for r in found}
    for hit in sections:
        book = by_id.setdefault(hit["runbook_id"], {"id": hit["runbook_id"], "title": hit["title"], "path": hit["path"],
                                                    "services": [], "sections": []})
        book["sections"].append({"runbook_section": hit["runbook_section"], "heading": hit["heading"],
                                 "score": hit["score"], "excerpt": hit["excerpt"][:200]})
    return capped(list(by_id.values()), searched)
