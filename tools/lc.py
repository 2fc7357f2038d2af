"""The catalog as LangChain tools for ReAct agents: bound to one request's ToolContext, JSON
out, masked before any model reads it. Read-only: no tool can write anything."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Callable

from langchain_core.tools import BaseTool, tool
from pydantic import Field

from tools import catalog
from tools.catalog import ToolContext

ALIASES = {"search_logs": "query_logs", "get_logs": "query_logs", "logs": "query_logs", "find_logs": "query_logs",
           "search": "search_templates", "find_templates": "search_templates", "similar": "search_templates",
           "overview": "get_service_overview", "service_overview": "get_service_overview",
           "dependencies": "blast_radius", "impact": "blast_radius", "get_dependencies": "blast_radius",
           "incident": "get_incident", "incidents": "latest_incidents", "list_incidents": "latest_incidents",
           "changes": "compare_windows", "what_changed": "compare_windows",
           "template_stats": "get_template_stats", "get_template": "get_template_stats",
           "context": "get_log_context", "log_context": "get_log_context", "get_context": "get_log_context",
           "upstream": "upstream_dependencies", "get_upstream": "upstream_dependencies",
           "neighbors": "graph_neighborhood", "neighbours": "graph_neighborhood", "topology": "graph_neighborhood",
           "runbooks": "find_runbooks", "get_runbooks": "find_runbooks"}

# what a bare `id` in a tool's rows names, for the citation check (agents/citations.py);
# every other id is read by its key (template_id, event_id, ...)
ID_KINDS = {"get_incident": "incident", "latest_incidents": "incident", "find_runbooks": "runbook"}


# bounds in the argument schemas: a model sees them, a JSON-schema grammar enforces them, and
# anything outside is an argument error handed back to the model (a 0.5B model asked for
# minutes=10**20, which overflowed timedelta)
Minutes = Annotated[int, Field(ge=1, le=7 * 1440, description="how far back, in minutes (1 to 10080)")]
Id = Annotated[int, Field(ge=1)]


def build(ctx: ToolContext, mask: Callable[[str], str], only: list[str] | None = None) -> list[BaseTool]:
    """The tools bound to `ctx`; `only` names an agent's tool set (in that order)."""
    def out(result) -> str:
        return mask(json.dumps(result.as_dict(), default=str))

    @tool
    def search_templates(query: str, service: str | None = None) -> str:
        """Find log templates whose meaning is close to a text or a log line (optionally for one service)."""
        return out(catalog.search_templates(ctx, query, [service] if service else None))

    @tool
    def query_logs(service: str | None = None, level: str | None = None, text: str | None = None,
                   minutes: Minutes = 60) -> str:
        """Recent log lines, newest first: filter by service, level (e.g. error) and a substring."""
        since = ctx.now() - timedelta(minutes=minutes)
        return out(catalog.query_logs(ctx, service=service, level=[level] if level else None, since=since, q=text))

    @tool
    def get_service_overview(service: str, minutes: Minutes = 60) -> str:
        """How a service has been: line counts by level and its busiest templates."""
        return out(catalog.get_service_overview(ctx, service, ctx.now() - timedelta(minutes=minutes)))

    @tool
    def compare_windows(service: str | None = None, minutes: Minutes = 60) -> str:
        """What changed: templates new, gone or spiking in the last `minutes` against the window before."""
        end = ctx.now()
        span = timedelta(minutes=minutes)
        return out(catalog.compare_windows(ctx, service, (end - 2 * span, end - span), (end - span, end)))

    @tool
    def blast_radius(service: str) -> str:
        """What a service depends on, who depends on it, and what shares its hosts."""
        return out(catalog.blast_radius(ctx, service))

    @tool
    def get_incident(incident_id: Id) -> str:
        """An incident and its report."""
        return out(catalog.get_incident(ctx, incident_id))

    @tool
    def latest_incidents(limit: Annotated[int, Field(ge=1, le=20)] = 5) -> str:
        """The latest incidents."""
        return out(catalog.latest_incidents(ctx, limit))

    @tool
    def get_template_stats(template_id: Id, minutes: Minutes = 60) -> str:
        """One template: its text, first/last seen, counts per service/host and per 5 minutes."""
        return out(catalog.get_template_stats(ctx, template_id, ctx.now() - timedelta(minutes=minutes)))

    @tool
    def get_log_context(event_id: Id) -> str:
        """The lines of the same host just before and after one event."""
        return out(catalog.get_log_context(ctx, event_id))

    @tool
    def upstream_dependencies(service: str) -> str:
        """What a service depends on, nearest first."""
        return out(catalog.upstream_dependencies(ctx, service))

    @tool
    def graph_neighborhood(node: str) -> str:
        """A service's or host's direct neighbours in the topology (hosts, dependencies, runbooks)."""
        return out(catalog.graph_neighborhood(ctx, node, 1))

    @tool
    def find_runbooks(service: str) -> str:
        """The runbooks written for a service."""
        return out(catalog.find_runbooks(ctx, [service]))

    every = [search_templates, query_logs, get_service_overview, compare_windows, blast_radius, get_incident,
             latest_incidents, get_template_stats, get_log_context, upstream_dependencies, graph_neighborhood,
             find_runbooks]
    if only is None:
        return every
    by_name = {t.name: t for t in every}
    return [by_name[n] for n in only]
