"""`devmesh migrate` and `devmesh services up|down|status`."""
from __future__ import annotations

import json

import click


@click.command()
@click.pass_obj
def migrate(settings):
    """Apply pending database migrations."""
    from db.migrate import migrate as run_migrations
    from db.pool import Database

    db = Database(settings.db.resolved(settings.services)[0])
    applied = run_migrations(db)
    click.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


@click.group()
def services():
    """Start, stop and inspect the local MariaDB and FalkorDB."""


@services.command("up")
@click.pass_obj
def services_up(settings):
    from db import local

    try:
        for line in local.up(settings.services, manage_db=not settings.db.url,
                             manage_graph=not settings.graph.url):
            click.echo(line)
    except local.ServiceError as exc:
        raise click.ClickException(str(exc)) from None


@services.command("down")
@click.pass_obj
def services_down(settings):
    from db import local

    for line in local.down(settings.services):
        click.echo(line)


@services.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def services_status(settings, as_json):
    from db import local

    rows = local.status(settings.services)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(f"{r['service']:<9} {r['state']:<8} {r['address']:<16} {r['version']:<40} {r['datadir']}")
