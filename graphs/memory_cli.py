"""`devmesh postmortem ID`: the postmortem draft, read from the database, on stdout."""
from __future__ import annotations

import click


@click.command("postmortem")
@click.argument("incident_id", type=click.IntRange(1))
@click.pass_obj
def postmortem_cmd(settings, incident_id):
    """Print incident ID's postmortem draft (Markdown) from the database: `> file.md`."""
    from db.pool import Database
    from graphs.postmortem import build
    from ingest.embedders import build_embedder

    db = Database(settings.db.resolved(settings.services)[1])
    try:
        text = build(db, incident_id, build_embedder(settings.embed))
    finally:
        db.close()
    if text is None:
        raise click.ClickException(f"no incident {incident_id}; list them with `devmesh incidents`")
    click.echo(text, nl=False)
