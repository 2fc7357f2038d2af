"""`devmesh detect | investigate | chat | event` (`incidents` is graphs/incidents_cli.py)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from graphs.client import server_options

# each command imports what it needs when it runs: `devmesh incidents` and `chat` start at once


@click.command()
@click.option("--once", is_flag=True, required=True, help="run one cycle and exit")
@click.option("--at", "at", default=None, help="ISO 8601 replay clock (default: now)")
@click.pass_obj
def detect(settings, once, at):
    """Run one detector cycle (the server runs one every DEVMESH_DETECT_INTERVAL_S)."""
    from db.graph import Graph
    from db.pool import Database
    from detectors.cycle import run_cycle
    from ingest.inventory import InventoryError, load
    from ingest.normalize import parse_timestamp
    from ingest.service_map import ServiceMap

    db = Database(settings.db.resolved(settings.services)[0])
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    try:
        units = ServiceMap(load(settings.topology.inventory)).names()
    except InventoryError:
        units = {}
    now = parse_timestamp(at) if at else datetime.now(timezone.utc).replace(tzinfo=None)
    from db.tracing import process_provider, tracer_of

    with process_provider() as provider:                 # traced when OTEL_EXPORTER_OTLP_ENDPOINT is set
        click.echo(json.dumps(run_cycle(db, graph, settings.detect, now, units, tracer_of(provider)).as_dict()))


@click.command("investigate")
@click.argument("incident_id", type=int, required=False)
@click.option("--at", "at", default=None, help="open an incident ending at this ISO 8601 moment (an alert, a person)")
@click.option("--service", default=None, help="with --at: the service; without it the whole fleet")
@click.option("--window", default="15m", show_default=True, help="with --at: how far back the incident reaches")
@click.pass_obj
def investigate_cmd(settings, incident_id, at, service, window):
    """Investigate incident ID now (again), or open one with --at, and print the report."""
    from agents.notify import Notifier
    from db import incidents as incident_sql
    from db.graph import Graph
    from db.pool import Database
    from graphs.investigate import Context as InvestigationContext
    from graphs.investigate import investigate
    from ingest.normalize import RecordError, parse_timestamp
    from ingest.normalize import parse_duration

    db = Database(settings.db.resolved(settings.services)[0])
    if (incident_id is None) == (at is None):
        raise click.UsageError("give an incident ID, or --at ISO8601 [--service S] [--window 15m]")
    if at is not None:
        try:
            end, span = parse_timestamp(at), parse_duration(window)
        except (RecordError, ValueError) as exc:
            raise click.BadParameter(str(exc)) from None
        with db.transaction() as cur:
            incident_id = incident_sql.open_incident(
                cur, f"reported by hand: {service or 'whole fleet'}", "manual", "error", service, None,
                [service] if service else [], end - span, end, datetime.now(timezone.utc).replace(tzinfo=None))
        click.echo(f"opened incident {incident_id}", err=True)
    elif incident_sql.get(db, incident_id) is None:
        raise click.ClickException(f"no incident {incident_id}; see `devmesh incidents`")
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    from ingest.inventory import InventoryError, load

    try:
        inventory = load(settings.topology.inventory)
    except InventoryError:
        inventory = None
    from agents.llm import build_chat_model
    from agents.tracing import SpanHandler
    from db.tracing import process_provider, tracer_of
    from ingest.embedders import build_embedder

    with process_provider() as provider:                 # traced when OTEL_EXPORTER_OTLP_ENDPOINT is set
        tracer = tracer_of(provider)
        spans = SpanHandler(tracer) if provider is not None else None
        state = investigate(incident_id, InvestigationContext(
            db, graph, Notifier(settings.notify), settings.investigate.baseline_minutes, lambda: inventory,
            llm=build_chat_model(settings.llm, [spans] if spans else None), structured=settings.llm.structured,
            max_rounds=settings.llm.max_rounds, mask_patterns=tuple(settings.llm.mask_patterns),
            embedder=build_embedder(settings.embed), tracer=tracer, spans=spans))
    click.echo(state["markdown"])


@click.command("chat")
@click.argument("question")
@click.option("--thread", "thread_id", default=None, help="continue a thread (its id is printed at the end)")
@server_options("DEVMESH_CHAT_TOKEN")
def chat_cmd(question, thread_id, url, token):
    """Ask the running server; its work streams as it happens (route, tools, answer)."""
    import httpx

    from graphs.client import explain, headers, sse_events, unreachable

    failed = None
    try:
        with httpx.stream("POST", f"{url.rstrip('/')}/chat", json={"question": question, "thread_id": thread_id},
                          headers=headers(token), timeout=120) as response:
            if response.status_code != 200:
                raise explain(url, response.status_code, response.read())
            for event, data in sse_events(response):
                if event == "route":
                    click.echo(click.style(f"[route] {data['route']} {', '.join(data['entities'])}", dim=True))
                elif event == "tool" and data["status"] == "start":
                    click.echo(click.style(f"[tool] {data['name']} {data['args']}", dim=True))
                elif event == "answer":
                    click.echo("\n" + data["markdown"])
                elif event == "error":
                    failed = data
                    click.echo(click.style(f"[error] {data['message']}", fg="red"), err=True)
                elif event == "done":
                    click.echo(click.style(f"\n[thread {data['thread_id']}, {data['elapsed_ms']} ms]", dim=True))
    except httpx.HTTPError as exc:
        raise unreachable(url, exc) from None
    if failed is not None:                 # the answer failed: say so in the exit status too
        raise click.ClickException(f"the server could not answer ({failed.get('code', 'error')}: "
                                   f"{failed.get('message')}); see the server log")


def render_event(found: dict) -> str:
    """A cited event as `devmesh event` prints it: the line, its template, its neighbours."""
    e, template = found["event"], found.get("template")
    out = [f"event {e['id']}  {e['ts']}  {e['host']}/{e['service']}  {e['level']}", f"  {e['message']}",
           f"template {e['template_id']}: {template['template'] if template else '(not stored)'}"]
    for scope in ("host", "service"):
        near = found["neighbours"][scope]
        out += ["", f"same {scope} ({e[scope]}), {len(near['before'])} before and {len(near['after'])} after:"]
        for row, mark in [*((r, " ") for r in near["before"]), (e, ">"), *((r, " ") for r in near["after"])]:
            out.append(f"{mark} {row['id']:>10}  {row['ts'][:23]}  {row['host']}/{row['service']}  "
                       f"{row['level']:<8} {row['message']}")
    return "\n".join(out)


@click.command("event")
@click.argument("event_id", type=click.IntRange(1, 2**64 - 1))
@click.option("--context", default=5, show_default=True, type=click.IntRange(0, 50),
              help="lines before and after, on the same host and on the same service")
@click.option("--json", "as_json", is_flag=True, help="the server's JSON as it is")
@server_options()
def event_cmd(event_id, context, as_json, url, token):
    """Open a cited event ([event:ID]): its template and neighbours."""
    from graphs.client import Client

    with Client(url, token) as client:
        found = client.get(f"/events/{event_id}", params={"context": context})
    click.echo(json.dumps(found) if as_json else render_event(found))
