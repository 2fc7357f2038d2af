"""The `chat` graph: route -> a deterministic handler -> answer.

Every step streams what it does (LangGraph's custom stream): `route` first, `tool` start and
end around each tool call, `evidence`, then `answer`. Without an LLM the same graph answers
from its handlers and says plainly that no LLM wrote the answer; the planner route (anything
the rule table does not know) says what it can answer instead.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, get_args

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents import planner as planner_agent
from agents import window_changes
from agents.citations import verified
from agents.grounding import Grounding, mentioned_services, names_of
from agents.tracing import run_config
from graphs import chat_code, chat_oncall
from graphs.chat_router import Route, extract, route
from graphs.chat_steps import ChatState, error_lines
from graphs.chat_steps import answer as _answer
from graphs.chat_steps import call as _call
from graphs.chat_steps import emit as _emit
from graphs.chat_steps import entities as _entities
from graphs.chat_steps import evidence_templates as _evidence_templates
from ingest.inventory import Inventory
from tools import catalog
from tools.catalog import ToolContext

ROUTES: tuple[Route, ...] = get_args(Route)


@dataclass
class ChatContext:
    tools: ToolContext
    inventory: Callable[[], Inventory | None]
    open_incident: Callable[[str | None, datetime, datetime], int] | None = None
    llm: Any = None                        # a chat model (agents.llm.build_chat_model), or None
    max_rounds: int = 3
    structured: bool = False               # agents.planner's JSON-schema mode for small models
    cancelled: threading.Event = field(default_factory=threading.Event)   # set when the client goes away
    spans: Any = None                      # agents/tracing.SpanHandler: the graph, its nodes, tools, LLM calls


def route_node(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx = runtime.context
    found = extract(state["question"], ctx.inventory(), ctx.tools.now())
    previous = state.get("entities") or {}          # the thread's last turn, from the checkpointer
    if not (found.services or found.hosts) and previous.get("services"):
        found.services = previous["services"]                     # "and the errors?" follows the thread
    chosen = route(state["question"], found)
    _emit("route", {"route": chosen, "entities": found.services + found.hosts,
                    "window": found.as_dict()["window"], "incident_id": found.incident_id})
    return {"route": chosen, "entities": found.as_dict()}


def overview(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx, e = runtime.context.tools, _entities(state)
    lines, cites = [], []
    inventory = runtime.context.inventory()
    services = e.services or mentioned_services([], e.hosts, inventory)      # a host's (or a role's) services
    for service in services[:3]:
        r = _call("get_service_overview", catalog.get_service_overview, ctx, service=service, since=e.since,
                  until=e.until)
        if r.status != "ok":
            lines.append(f"**{service}**: {r.hint}")
            continue
        d = r.data
        levels = ", ".join(f"{n} {lvl}" for lvl, n in sorted(d["by_level"].items(), key=lambda x: -x[1]))
        lines.append(f"**{service}**: {d['lines']} lines ({levels}).")
        lines += [f"- [template:{t['template_id']}] {t['level']} x{t['count']}: {t['template']}" for t in
                  d["top_templates"][:5]]
        cites += _evidence_templates(d["top_templates"][:5])
    if not services:
        lines.append("Name a service from the inventory (or a host's service) for an overview.")
    elif len(services) > 3:
        lines.append(f"(Also on {', '.join(e.hosts)}: {', '.join(services[3:])}; ask about one by name.)")
    if e.hosts and services:                 # "the GPU nodes": what is wrong there, whichever service says it
        lead, lead_cites = chat_oncall.incidents_involving(ctx, services)
        for host in e.hosts[:3]:
            more, ids = error_lines(ctx, None, host, e.since, e.until, f"Errors on {host}")
            lines += more
            cites += ids
        lines, cites = [*lead, *lines], [*lead_cites, *cites]
    return _answer(lines, cites)


def errors(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx, e = runtime.context.tools, _entities(state)
    lines, cites = error_lines(ctx, e.services[0] if e.services else None, e.hosts[0] if e.hosts else None,
                               e.since, e.until)
    return _answer(lines, cites)


def changed(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    """What changed (agents/window_changes.py, as GET /changes): templates new, gone, up and
    down against the window before, only those the binomial test calls significant."""
    ctx, e = runtime.context.tools, _entities(state)
    end = e.until or ctx.now()
    start = e.since or end - timedelta(hours=1)
    span = end - start
    r = _call("compare_windows", window_changes.changes_tool, ctx, service=e.services[0] if e.services else None,
              before=(start - span, start), after=(start, end))
    if r.status != "ok":
        return _answer([f"Nothing changed between {start:%H:%M}-{end:%H:%M} and the window before ({r.hint})."], [])
    lines, rows = [f"Compared {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC with the {span} before "
                   "(significance: -log10 p of a binomial test, >= 2 shown):"], []
    for kind, title in (("new", "New"), ("up", "Up"), ("gone", "Gone"), ("down", "Down")):
        shown = [t for t in r.data[kind] if t["significant"]][:6]
        if shown:
            lines.append(f"**{title}**")
            for t in shown:
                lines.append(f"- [template:{t['template_id']}] {t['service']} {t['count_a']} -> {t['count_b']} "
                             f"(significance {t['significance']}): {t['template']}")
                rows.append({**t, "count": t["count_b"]})
    if not rows:
        lines.append("No template moved more than chance would (counts too small or steady).")
    return _answer(lines, _evidence_templates(rows))


def similar(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx, e = runtime.context.tools, _entities(state)
    text = e.quoted or state["question"]
    r = _call("search_templates", catalog.search_templates, ctx, query=text, services=e.services or None, k=5)
    if r.status != "ok":
        return _answer([f"No similar templates ({r.hint})."], [])
    lines = [f"Templates most like “{text[:120]}”:"]
    lines += [f"- [template:{t['template_id']}] {t['similarity']:.2f} {t['level']} on {', '.join(t['services'])}: "
              f"{t['template']}" for t in r.data]
    return _answer(lines, _evidence_templates(r.data))


def dependencies(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx, e = runtime.context.tools, _entities(state)
    if not e.services:
        return _answer(["Name a service to see what it depends on and its blast radius."], [])
    service = e.services[0]
    r = _call("blast_radius", catalog.blast_radius, ctx, service=service)
    if r.status != "ok":
        return _answer([f"No topology for {service} ({r.hint})."], [])
    d = r.data
    lines = [f"**{service}** depends on: " + (", ".join(f"{u['service']} ({u['hops']} hop{'s' * (u['hops'] > 1)})"
                                                       for u in d["upstream"]) or "nothing in the inventory") + ".",
             "Blast radius (who depends on it): " + (", ".join(f"{x['service']} ({x['hops']})"
                                                              for x in d["downstream"]) or "nobody") + ".",
             "Shares hosts with: " + (", ".join(sorted({c['service'] for c in d["co_hosted"]})) or "nobody") + "."]
    runbooks = _call("find_runbooks", catalog.find_runbooks, ctx, services=[service])
    cites = []
    if runbooks.status == "ok":
        for b in runbooks.data:
            lines.append(f"- runbook [runbook:{b['id']}] {b['title']}")
            lines += [f"  - [runbook:{x['runbook_section']}] {x['heading']}" for x in b.get("sections", [])[:3]]
            cites += [f"runbook:{b['id']}", *(f"runbook:{x['runbook_section']}" for x in b.get("sections", [])[:3])]
    return _answer(lines, cites)


def incident(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx, e = runtime.context.tools, _entities(state)
    if e.incident_id is None:
        r = _call("latest_incidents", catalog.latest_incidents, ctx, limit=5)
        if r.status != "ok":
            return _answer(["No incidents so far."], [])
        lines = ["Latest incidents:"] + [f"- #{i['id']} {i['status']} {i['severity']}: {i['title']} "
                                          f"(opened {i['opened_at'][:16]})" for i in r.data]
        return _answer(lines, [f"incident:{i['id']}" for i in r.data])
    r = _call("get_incident", catalog.get_incident, ctx, incident_id=e.incident_id)
    if r.status != "ok":
        return _answer([r.hint], [])
    i, report = r.data, r.data.get("report")
    lines = [f"**Incident #{i['id']}** ({i['status']}, {i['severity']}): {i['title']}"]
    if report:
        lines.append(report["root_cause_hypothesis"])
        lines += [f"- do: {a}" for a in report["suggested_actions"][:3]]
        cites = [f"template:{t}" for t in report["evidence_template_ids"][:5]]
        book = report.get("runbook_steps")
        if book and book["steps"]:
            lines.append(f"Runbook {book['title']}:")
            lines += [f"  {n}. {x['text']} [runbook:{x['runbook_section']}]" for n, x in enumerate(book["steps"], 1)]
            cites += [f"runbook:{x['runbook_section']}" for x in book["steps"]]
    else:
        lines.append("Not investigated yet.")
        cites = []
    return _answer(lines, [f"incident:{i['id']}", *cites])


def investigate_now(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    e, opener = _entities(state), runtime.context.open_incident
    if opener is None:
        return _answer(["Opening incidents needs an admin token (this one may only read); ask someone with one, "
                        "or POST /incidents with it."], [])
    end = e.until or runtime.context.tools.now()
    incident_id = opener(e.services[0] if e.services else None, e.since or end - timedelta(minutes=15), end)
    return _answer([f"Opened incident #{incident_id}; the investigation is running. Ask about "
                    f"“incident {incident_id}” in a moment."], [f"incident:{incident_id}"])


def planner(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    ctx = runtime.context
    if ctx.llm is not None:
        e, inventory = _entities(state), ctx.inventory()
        named = mentioned_services(e.services, e.hosts, inventory)      # the only filters the planner may use
        write = get_stream_writer()          # this node's writer: tools run inside the agent's own graph
        result = planner_agent.run(state["question"], ctx.llm, ctx.tools, ctx.max_rounds, named, e.window_text,
                                   on_tool=lambda event: write({"event": "tool", "data": event}),
                                   on_token=lambda text: write({"event": "token", "data": {"text": text}}),
                                   structured=ctx.structured,
                                   known_services=list(inventory.services) if inventory else None,
                                   should_stop=ctx.cancelled.is_set,
                                   grounding=Grounding(named, e.hosts, names_of(inventory), state["question"]),
                                   check_answer=True)
        note = f"\n\n_{result.redactions} secrets were masked before the model read the logs._" \
            if result.redactions else ""
        return {"answer": result.answer + note, "citations": verified(result.answer, result.unverified)}
    return _answer(["I can answer without an LLM when you ask about: what is wrong right now, why a service "
                    "failed, a service's overview, errors in a window, what changed, similar lines (quote one), "
                    "dependencies and blast radius, incidents, runbooks, or “investigate <service> now”. Name services as the inventory does and a window such as "
                    "“last hour” or “since 14:00”. (An LLM is not configured, so free-form questions are not "
                    "answered.)"], [])


def answer_node(state: ChatState) -> dict:
    _emit("answer", {"markdown": state["answer"], "citations": state.get("citations", [])})
    return {}


def _pick(state: ChatState) -> str:
    return state["route"]


def build(checkpointer=None):
    """The chat graph; with a checkpointer (db.checkpoint.MariaDBSaver in the server) each
    thread's state persists, so a follow-up sees the last turn's entities."""
    graph = StateGraph(ChatState, context_schema=ChatContext)
    graph.add_node("route", route_node)
    handlers = {"overview": overview, "errors": errors, "changed": changed, "similar": similar,
                "dependencies": dependencies, "incident": incident, "investigate": investigate_now,
                "runbook": chat_oncall.runbook, "current": chat_oncall.current, "cause": chat_oncall.cause,
                "exception": chat_code.exceptions,
                "planner": planner}
    for name, node in handlers.items():
        graph.add_node(name, node)
        graph.add_edge(name, "answer")
    graph.add_node("answer", answer_node)
    graph.add_edge(START, "route")
    graph.add_conditional_edges("route", _pick, {name: name for name in handlers})
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=checkpointer)


CHAT = build()


async def stream(question: str, ctx: ChatContext, thread_id: str | None = None, graph=None):
    """Yield (event, data) as the graph works; the final state's route and entities last.
    `graph` is a compiled chat graph with a checkpointer when `thread_id` should persist."""
    graph = graph or CHAT
    config = {"configurable": {"thread_id": thread_id}} if thread_id and graph.checkpointer else {}
    config.update(run_config(ctx.spans))
    final: dict[str, Any] = {}
    async for mode, chunk in graph.astream({"question": question}, config, context=ctx,
                                           stream_mode=["custom", "values"]):
        if mode == "custom":
            yield chunk["event"], chunk["data"]
        else:
            final = chunk
    yield "_state", {k: final.get(k) for k in ("route", "entities", "answer", "citations")}


def dumps(data: dict) -> str:
    return json.dumps(data, default=str)
