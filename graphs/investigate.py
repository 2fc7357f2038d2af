"""The `investigate` graph: context -> timeline -> root cause -> impact -> report -> persist -> notify.

Every node is a deterministic step from agents/ (no LLM needed). With an LLM, the `agents`
node runs the timeline, root-cause and impact agents (agents/investigators.py: their own
prompts and read-only tool sets) on the deterministic result, and the reporter writes the
narrative from both; the ranking itself never changes because an LLM spoke. Clients come
in through the runtime context, never built inside a node.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents import impact as impact_step
from agents import investigators, reporter, root_cause, scope as scope_step, timeline as timeline_step
from agents.notify import Notifier
from agents.tracing import run_config
from db import events
from db import graph as cypher
from db import incidents as incident_sql
from db import lifecycle
from db import metrics_sql
from db import templates as template_sql
from db.graph import Graph, GraphUnavailable
from db.pool import Database
from db.tracing import NOOP
from ingest.inventory import Inventory
from retrieval.enrich import ReferenceMatcher
from retrieval.prometheus import Prometheus
from retrieval.runbooks import RunbookQuery, best_steps, find_sections
from retrieval.similar import find_similar, remember, root_cause_clues
from tools.catalog import ToolContext

log = logging.getLogger(__name__)
LOOKBACK_S = 15 * 60                 # a split-off incident's window starts this long before its first signal


@dataclass
class Context:
    db: Database
    graph: Graph | None
    notifier: Notifier | None = None
    baseline_minutes: int = 240
    inventory: Callable[[], Inventory | None] = lambda: None     # the inventory in force, for references
    prometheus: Prometheus | None = None                          # metrics around the incident, when configured
    max_metric_services: int = 5
    llm: Any = None                                               # agents + a narrative beside the ranking
    tools_db: Database | None = None                              # the read-only pool the agents' tools read
    structured: bool = False                                      # plan-execute agents for small models
    max_rounds: int = 3
    mask_patterns: tuple[str, ...] = ()                           # redacted before any model reads them
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc).replace(tzinfo=None)   # the investigation's clock
    embedder: Any = None                                          # runbook sections and past incidents by meaning
    tracer: Any = NOOP                                            # db/tracing.py: the `investigation` span
    spans: Any = None                                             # agents/tracing.SpanHandler: nodes, tools, LLM calls


class State(TypedDict, total=False):
    incident_id: int
    incident: dict
    signals: list[dict]
    scope: Any
    metrics: dict | None
    timeline: list[dict]
    candidates: list[Any]
    impact: dict
    runbooks: list[dict]
    similar: list[dict]            # resolved past incidents like this one (retrieval/similar.py)
    examples: dict[int, list[dict]]
    findings: list[Any]
    report: dict
    markdown: str
    report_id: int | None
    split_to: int | None
    notified: dict


def context(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    incident = incident_sql.get(ctx.db, state["incident_id"])
    if incident is None:
        raise LookupError(f"no incident {state['incident_id']}")
    signals = incident_sql.signals(ctx.db, incident["id"])
    inventory = ctx.inventory()
    matcher = ReferenceMatcher(inventory) if inventory is not None else None
    scope = scope_step.gather(ctx.db, ctx.graph, incident, signals, ctx.baseline_minutes, matcher, now=ctx.now())
    return {"incident": incident, "signals": signals, "scope": scope, "metrics": _metrics(ctx, incident, scope),
            "similar": find_similar(ctx.db, ctx.embedder, incident["id"]) or []}


def _metrics(ctx: Context, incident: dict, scope) -> dict | None:
    """Prometheus summaries for the incident's services (and the most anomalous ones)."""
    if ctx.prometheus is None:
        return None
    names = list(dict.fromkeys([*incident["services"], *(v.name for v in scope.anomalous())]))[:ctx.max_metric_services]
    services = {n: scope.services[n].type if n in scope.services else "service" for n in names}
    rows, problems = ctx.prometheus.snapshot(services, scope.since, scope.until)
    if rows:
        for row, snapshot_id in zip(rows, metrics_sql.save(ctx.db, incident["id"], rows)):
            row["id"] = snapshot_id
        if ctx.graph is not None:
            try:
                cypher.record_metrics(ctx.graph, incident["id"], rows)
            except GraphUnavailable:
                problems.append("graph unavailable; snapshots kept in MariaDB only")
    return {"snapshots": [{k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in r.items()}
                          for r in rows], "problems": problems}


def timeline(state: State) -> dict:
    return {"timeline": timeline_step.build(state["scope"], state["signals"])}


def rank_root_cause(state: State) -> dict:
    return {"candidates": root_cause.rank(state["scope"], past=root_cause_clues(state.get("similar") or []))}


def impact(state: State, runtime: Runtime[Context]) -> dict:
    top = state["candidates"][0].service if state["candidates"] else None
    return {"impact": impact_step.assess(state["scope"], runtime.context.graph, top)}


def _draft(state: State) -> dict:
    return {"candidates": [c.as_dict() for c in state["candidates"]], "timeline": state["timeline"],
            "impacted_services": state["impact"]["impacted"], "at_risk_services": state["impact"]["at_risk"],
            "evidence_template_ids": list(dict.fromkeys(t for c in state["candidates"][:3]
                                                        for t in c.evidence_template_ids))}


def agents(state: State, runtime: Runtime[Context]) -> dict:
    """The LLM agents, when one is configured; their tools see the incident's window end as now."""
    ctx = runtime.context
    if ctx.llm is None:
        return {"findings": []}
    end = state["scope"].until
    tools = ToolContext(ctx.tools_db or ctx.db, ctx.graph if state["scope"].graph_ok else None, None, lambda: "",
                        lambda: end, tuple(ctx.mask_patterns))
    inventory = ctx.inventory()
    known = sorted(inventory.services) if inventory is not None else sorted(state["scope"].services)
    return {"findings": investigators.run_agents(ctx.llm, tools, state["incident"], _draft(state), known,
                                                 ctx.structured, ctx.max_rounds)}


def report(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    names = [c.service for c in state["candidates"][:1]] + state["impact"]["impacted"]
    runbooks: list[dict] = []
    if ctx.graph is not None and state["scope"].graph_ok and names:
        try:
            runbooks = cypher.runbooks_for(ctx.graph, names)
        except GraphUnavailable:
            runbooks = []
    cited = list(dict.fromkeys(t for c in state["candidates"][:3] for t in c.evidence_template_ids))
    scope = state["scope"]
    samples = events.examples(ctx.db, cited, 2, events.EventFilter(since=scope.since, until=scope.until))
    examples = {t: [{"id": f"event:{e['id']}", "ts": e["ts"], "host": e["host"], "message": e["message"][:300]}
                    for e in samples.get(t, [])] for t in cited}
    composed = reporter.compose(scope, state["candidates"], state["timeline"], state["impact"], runbooks, examples)
    composed["metrics"] = state.get("metrics")
    composed["runbook_sections"], composed["runbook_steps"] = _runbook_sections(ctx, state, names, cited)
    composed["similar_incidents"] = state.get("similar") or []
    if ctx.llm is not None:
        findings = state.get("findings") or []
        written = investigators.narrative(ctx.llm, state["incident"], composed, findings, ctx.structured,
                                          tuple(ctx.mask_patterns))
        composed["narrative"] = written["narrative"]
        top = composed["root_cause_service"]
        composed["llm"] = {"root_cause_service": written["root_cause_service"], "cited": written["cited"],
                           "unverified": written["unverified"], "agents": [f.as_dict() for f in findings],
                           "names": written["names"], "cut": written["cut"], "failed": written["failed"],
                           "disagrees": bool(written["names"] and top and written["names"] != top)}
    markdown = reporter.markdown(composed, state["incident"], examples)
    if composed.get("narrative"):
        markdown = markdown.replace("## Candidates", f"## Narrative (written by an LLM)\n\n{_narrative_notes(composed)}"
                                                     f"{composed['narrative']}\n\n## Candidates", 1)
    return {"report": composed, "runbooks": runbooks, "examples": examples, "markdown": markdown}


def _narrative_notes(report: dict) -> str:
    """What a reader must know before the narrative: it disagrees with the ranking, or it was cut."""
    llm, notes = report["llm"], []
    if llm["disagrees"]:
        notes.append(f"> **The LLM disagrees with the ranking:** its narrative names {llm['names']} as the root "
                     f"cause; the deterministic ranking's top candidate is {report['root_cause_service']}. The "
                     "ranking below is unchanged.")
    if llm["cut"]:
        notes.append("> The narrative was cut at the model's token bound; it ends mid-sentence.")
    return "\n>\n".join(notes) + "\n\n" if notes else ""


REPORT_RUNBOOK_SECTIONS = 8   # the root cause's runbooks, those quoting its templates, and the impacted ones'


def _runbook_sections(ctx: Context, state: State, names: list[str], cited: list[int]) -> tuple[list[dict], dict | None]:
    """The runbook sections for this incident (its services, its cited templates' text and
    ids, its detectors, its title by meaning) and the steps of the best runbook."""
    texts = [t["template"] for t in template_sql.get_many(ctx.db, cited).values()]
    query = RunbookQuery("\n".join([state["incident"]["title"], *texts])[:2000], names, cited, texts,
                         sorted({s["detector"] for s in state["signals"]}), k=REPORT_RUNBOOK_SECTIONS)
    graph = ctx.graph if state["scope"].graph_ok else None
    try:
        hits = find_sections(ctx.db, graph, ctx.embedder, query)
    except GraphUnavailable:
        hits = find_sections(ctx.db, None, ctx.embedder, query)
    sections = [{k: h[k] for k in ("runbook_section", "runbook_id", "section", "title", "heading", "score", "reasons")}
                for h in hits]
    return sections, best_steps(ctx.db, hits)


def _another_fault(state: State, previous: tuple[str | None, int | None] | None) -> list[int]:
    """The signals to split off when this run tells a new fault apart from the one the last
    report named: its root cause is another service, not connected to the old one in either
    direction, and the old one is no longer among the first three. Those are the signals
    merged since that report. A better picture of the same fault (the old root now ranked
    second under its dependency) is not a new incident."""
    if not previous or not previous[0] or not state["candidates"]:
        return []
    old, new = previous[0], state["candidates"][0].service
    upstream = state["scope"].upstream
    if (new == old or old in upstream.get(new, set()) or new in upstream.get(old, set())
            or old in {c.service for c in state["candidates"][:3]}):
        return []
    return [s["id"] for s in state["signals"] if previous[1] is None or s["id"] > previous[1]]


def persist(state: State, runtime: Runtime[Context]) -> dict:
    ctx = runtime.context
    scope = state["scope"]
    incident_id = state["incident_id"]
    moving = _another_fault(state, incident_sql.previous_report(ctx.db, incident_id))
    if moving:
        first = next(s for s in state["signals"] if s["id"] in moving)
        with ctx.db.transaction() as cur:
            new_id = lifecycle.split(cur, incident_id, moving, reporter.title(scope, state["candidates"]) or
                                     first["message"], ctx.now(), LOOKBACK_S)
        log.info("incident %s: %d signal(s) point at %s, another fault; split off as incident %s",
                 incident_id, len(moving), state["candidates"][0].service, new_id)
        return {"report_id": None, "split_to": new_id}
    incident_sql.save_context(ctx.db, incident_id, {
        "services": sorted(scope.services), "hops": scope.hops, "history_minutes": scope.history_minutes,
        "window": [scope.since.isoformat(), scope.until.isoformat()]})
    title = reporter.title(scope, state["candidates"])
    llm = state["report"].get("llm")
    written_by = "deterministic ranking, LLM narrative" if llm and not llm["failed"] else "deterministic"
    report_id = incident_sql.save_report(ctx.db, incident_id, state["report"], state["markdown"], written_by, title=title,
                                         last_signal_id=max((s["id"] for s in state["signals"]), default=None))
    remember(ctx.db, ctx.embedder, state["incident"], state["report"], title)
    log.info("incident %s: report %s written: %s (confidence %.2f)", incident_id, report_id,
             title or "no candidate", state["report"]["confidence"])
    if ctx.graph is not None and scope.graph_ok:
        rows = [{"id": t["template_id"], "service": v.name} for v in scope.anomalous() for t in v.templates
                if t["template_id"] in state["report"]["evidence_template_ids"]]
        hosts = sorted({h for v in scope.anomalous() for h in v.hosts})
        try:
            cypher.record_incident(ctx.graph, incident_id, title or state["incident"]["title"],
                                   sorted(v.name for v in scope.anomalous()), hosts, rows)
        except GraphUnavailable:
            pass                                  # the report stands; the graph catches up next time
    return {"report_id": report_id}


def notify(state: State, runtime: Runtime[Context]) -> dict:
    """Tell the configured channels; not for a run that split its signals off (the new
    incident's own report will), nor for an incident snoozed or resolved."""
    notifier = runtime.context.notifier
    if state.get("split_to") or state["incident"]["state"] in ("snoozed", "resolved"):
        return {"notified": {}}
    sent = notifier.notify(state["incident"], state["report"]) if notifier else {}
    return {"notified": sent}


def build():
    graph = StateGraph(State, context_schema=Context)
    for name, node in (("context", context), ("timeline", timeline), ("root_cause", rank_root_cause),
                       ("impact", impact), ("agents", agents), ("report", report), ("persist", persist),
                       ("notify", notify)):
        graph.add_node(name, node)
    graph.add_edge(START, "context")
    for a, b in (("context", "timeline"), ("timeline", "root_cause"), ("root_cause", "impact"),
                 ("impact", "agents"), ("agents", "report"), ("report", "persist"), ("persist", "notify")):
        graph.add_edge(a, b)
    graph.add_edge("notify", END)
    return graph.compile()


INVESTIGATE = build()


def investigate(incident_id: int, ctx: Context) -> dict:
    """Run the whole graph for one incident; returns the final state. Traced as one
    `investigation` span holding the graph's, each node's, each tool's and each LLM call's."""
    with ctx.tracer.start_as_current_span("investigation", attributes={"devmesh.incident.id": incident_id}):
        return INVESTIGATE.invoke({"incident_id": incident_id}, run_config(ctx.spans), context=ctx)
