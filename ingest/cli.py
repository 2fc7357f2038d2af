"""`devmesh import | embed | parse`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from db.pool import Database
from ingest.embedders import build_embedder
from ingest.embedding import EmbeddingWorker
from ingest.pipeline import Ingestor


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default=None, help="host for syslog lines that do not name one")
@click.option("--service", default=None, help="service for lines that do not name one")
@click.option("--batch-size", default=1000, show_default=True)
@click.pass_obj
def import_(settings, files, host, service, batch_size):
    """Import JSON lines, `journalctl -o json` exports or syslog lines through the pipeline."""
    from ingest.importer import import_files

    db = Database(settings.db.resolved(settings.services)[0])
    totals = import_files(Ingestor(db, settings.ingest), files, batch_size=batch_size,
                          default_host=host, default_service=service)
    click.echo(json.dumps(totals))


@click.command()
@click.option("--backfill", is_flag=True, required=True, help="embed every template that has no vector")
@click.option("--batch-size", default=64, show_default=True)
@click.pass_obj
def embed(settings, backfill, batch_size):
    """Embed templates that have no vector yet for the configured model (resumable)."""
    db = Database(settings.db.resolved(settings.services)[0])
    worker = EmbeddingWorker(db, build_embedder(settings.embed), settings.embed)
    done = worker.backfill(batch_size=batch_size, progress=True)
    click.echo(json.dumps({"embedded": done, "model": worker.embedder.name}))


@click.command()
def parse():
    """Template each stdin line: prints TEMPLATE_ID<TAB>TEMPLATE per line, no database."""
    from ingest.templates import template_of

    out = sys.stdout
    for line in sys.stdin:
        template_id, template = template_of(line.rstrip("\n"))
        out.write(f"{template_id}\t{template}\n")


@click.command()
@click.option("--days", type=float, default=None, help="keep raw events this many days (default: settings)")
@click.option("--rollup-days", type=float, default=None, help="keep minute rollups this many days")
@click.pass_obj
def prune(settings, days, rollup_days):
    """Delete old events and rollups in small chunks; drop templates nothing refers to."""
    from ingest.retention import prune as run_prune

    retention = settings.retention.model_copy(update={k: v for k, v in (("events_days", days),
                                                                         ("rollups_days", rollup_days)) if v})
    db = Database(settings.db.resolved(settings.services)[0])
    click.echo(json.dumps(run_prune(db, retention)))
