"""`devmesh clusters`: the exception clusters (one line each, or JSON), `show ID` (the
representative trace with its frames), `resolve ID` (seen again, it regresses)."""
from __future__ import annotations

import json

import click


def _db(settings, write: bool = False):
    from db.pool import Database

    return Database(settings.db.resolved(settings.services)[0 if write else 1])


@click.group("clusters", invoke_without_command=True)
@click.option("--service", multiple=True, help="only these services")
@click.option("--status", type=click.Choice(["new", "regressed", "resolved"]), multiple=True)
@click.option("--since", default=None, help="last seen after: ISO 8601 or a duration ago (15m, 6h, 2d)")
@click.option("--sort", type=click.Choice(["count", "recency"]), default="count", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object: {clusters, next}")
@click.pass_context
def clusters(ctx, service, status, since, sort, limit, as_json):
    """Exception clusters from the stack traces in the logs: list, show one, resolve one."""
    if ctx.invoked_subcommand is not None:
        return
    from retrieval.clusters import page
    from retrieval.http import parse_time

    try:
        after = parse_time(since, "since")
    except Exception as exc:  # noqa: BLE001 - fail() carries the message for the API
        raise click.UsageError(getattr(exc, "detail", {}).get("message", str(exc))) from None
    db = _db(ctx.obj)
    try:
        found = page(db, list(service) or None, list(status) or None, after, sort, limit)
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(found))
        return
    for c in found["clusters"]:
        click.echo(f"{c['id']:>6}  {c['status']:<9} {c['total_count']:>7}  {c['last_seen'][:19]}  "
                   f"{c['service']}  {c['message_template'][:100]}")
    if not found["clusters"]:
        click.echo("no exception clusters (yet): stack traces in the logs become clusters at ingest")


@clusters.command("show")
@click.argument("cluster_id", type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(settings, cluster_id, as_json):
    """One cluster: its representative trace, frames (in-app marked *), versions and similar clusters."""
    from retrieval.clusters import detail

    db = _db(settings)
    try:
        found = detail(db, cluster_id)
    finally:
        db.close()
    if found is None:
        raise click.ClickException(f"no exception cluster {cluster_id}; list them with `devmesh clusters`")
    if as_json:
        click.echo(json.dumps(found))
        return
    c = found["cluster"]
    click.echo(f"cluster {c['id']} [{c['status']}] {c['service']}: {c['message_template']}")
    click.echo(f"  seen {c['total_count']} times, {c['first_seen'][:19]} .. {c['last_seen'][:19]}")
    for section in found["representative"]["sections"]:
        click.echo(f"  {section['exception_type']}  (innermost first)")
        for f in section["frames"]:
            click.echo(f"    {'*' if f['in_app'] else ' '} {f['function']}  {f['file']}:{f['line']}")
    for v in found["versions"]:
        click.echo(f"  version {v['version'] or '-'}: {v['count']}")
    for s in found["similar"]:
        click.echo(f"  similar {s['id']} ({s['reason']}): {s['message_template'][:80]}")


@clusters.command("resolve")
@click.argument("cluster_id", type=click.IntRange(1))
@click.pass_obj
def resolve(settings, cluster_id):
    """Mark a cluster resolved; seen again, it becomes regressed (a detector signal)."""
    from db import exception_reads as sql

    db = _db(settings, write=True)
    try:
        if not sql.set_status(db, cluster_id, "resolved"):
            raise click.ClickException(f"no exception cluster {cluster_id}; list them with `devmesh clusters`")
    finally:
        db.close()
    click.echo(json.dumps({"id": cluster_id, "status": "resolved"}))
