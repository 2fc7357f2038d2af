"""`devmesh incidents [show|ack|resolve|snooze]`.

The bare command lists the latest incidents from the database (as `devmesh investigate`
reads it). `show`, `ack`, `resolve` and `snooze` ask the running server (`--url`,
DEVMESH_URL): `show` is `GET /incidents/{id}` (the incident, its signals and its latest
report, as written; nothing is re-run), the others are `POST /incidents/{id}/ack|resolve|
snooze`, so the lifecycle rules and their log lines live in one place, the server.
"""
from __future__ import annotations

import json

import click

from graphs.client import Client, server_options


@click.group("incidents", invoke_without_command=True)
@click.option("--status", default=None, help="open, investigating, reported or closed")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def incidents(ctx, status, limit, as_json):
    """The latest incidents; show, ack, resolve or snooze one."""
    if ctx.invoked_subcommand:
        return
    from db import incidents as incident_sql
    from db.pool import Database

    settings = ctx.obj
    db = Database(settings.db.resolved(settings.services)[0])
    rows = incident_sql.listing(db, [status] if status else None, None, None, limit)
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'id':>5}  {'opened (UTC)':<20} {'status':<13} {'state':<13} {'severity':<9} title")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['opened_at'][:19]:<20} {r['status']:<13} {r.get('state') or '-':<13} "
                   f"{r['severity']:<9} {r['title']}")


def render(incident: dict) -> str:
    """An incident as `show` prints it: a header, the report's markdown, the signals."""
    lines = [f"incident {incident['id']}: {incident['title']}",
             f"status {incident['status']}, state {incident.get('state') or '-'}, severity {incident['severity']}, "
             f"window {incident['window_start']} .. {incident['window_end']}", ""]
    report = incident.get("report")
    if report:
        lines += [f"report {report['id']} ({report.get('written_by') or 'unknown'}, {report['created_at']}):", "",
                  report["markdown"].rstrip(), ""]
    else:
        lines += [f"no report yet (status {incident['status']}); the server's investigators write one, "
                  f"or run `devmesh investigate {incident['id']}`", ""]
    signals = incident.get("signals") or []
    lines.append(f"signals ({len(signals)}):")
    for s in signals:
        where = "/".join(x for x in (s.get("service"), s.get("host")) if x) or "fleet"
        lines.append(f"  {s['at'][:19]}  {s['detector']:<14} {s['severity']:<9} {where:<24} {s['message']}")
    return "\n".join(lines)


@incidents.command("show")
@click.argument("incident_id", type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="the server's JSON as it is")
@server_options()
def show(incident_id, as_json, url, token):
    """Read an incident and its latest report (nothing is re-run)."""
    with Client(url, token) as client:
        incident = client.get(f"/incidents/{incident_id}")
    click.echo(json.dumps(incident) if as_json else render(incident))


def _move(incident_id: int, action: str, url: str, token: str | None, as_json: bool, body: dict | None = None):
    with Client(url, token) as client:
        incident = client.post(f"/incidents/{incident_id}/{action}", json=body)
    if as_json:
        click.echo(json.dumps(incident))
        return
    until = f" until {incident['snoozed_until']}" if incident.get("snoozed_until") and action == "snooze" else ""
    click.echo(f"incident {incident['id']}: {incident.get('state') or incident['status']}{until} "
               f"(investigation {incident['status']}): {incident.get('title', '')}")


def _lifecycle(action: str, doc: str):
    @click.argument("incident_id", type=click.IntRange(1))
    @click.option("--json", "as_json", is_flag=True, help="print the incident's JSON")
    @server_options()
    def command(incident_id, as_json, url, token):
        _move(incident_id, action, url, token, as_json)
    command.__doc__ = doc
    return incidents.command(action)(command)


_lifecycle("ack", "Acknowledge incident ID: someone is on it (it still takes its fault's signals).")
_lifecycle("resolve", "Resolve incident ID: it takes no new signals; a new one opens a new incident.")


def _minutes(ctx, param, value: str) -> int:
    from ingest.normalize import parse_duration

    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (e.g. 30m, 2h, 1d)") from None
    if seconds < 60:
        raise click.BadParameter(f"{value!r}: snooze for at least a minute (e.g. 30m)")
    return int(-(-seconds // 60))


@incidents.command("snooze")
@click.argument("incident_id", type=click.IntRange(1))
@click.option("--for", "minutes", default="60m", show_default=True, callback=_minutes,
              help="how long: 30m, 2h, 1d; then it is open again")
@click.option("--json", "as_json", is_flag=True, help="print the incident's JSON")
@server_options()
def snooze(incident_id, minutes, as_json, url, token):
    """Snooze incident ID: no notifications for a while, then it is open again."""
    _move(incident_id, "snooze", url, token, as_json, {"minutes": minutes})
