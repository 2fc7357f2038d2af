"""`devmesh import | embed | parse`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

# each command imports what it needs when it runs: `devmesh parse` must start at once


def _ingestor(settings, db):
    """The Ingestor a server would write with: the fleet's inventory maps services (the one
    published in MariaDB, else DEVMESH_INVENTORY's file), learned templates resolve."""
    from ingest.inventory import InventoryError
    from ingest.merging import MergeMap
    from ingest.pipeline import Ingestor
    from ingest.service_map import fleet_map

    try:
        services, source = fleet_map(db, settings.topology.inventory)
    except InventoryError as exc:
        raise click.ClickException("the inventory is invalid, so services could not be mapped as the server "
                                   "maps them; fix it (or point DEVMESH_INVENTORY at a good one):\n"
                                   + "\n".join(exc.problems)) from None
    if services is None:
        click.echo(f"note: no inventory ({settings.topology.inventory} not found, none published): "
                   "services keep the names the lines carry", err=True)
    return Ingestor(db, settings.ingest, services=services, merges=MergeMap(settings.learn.refresh_s))


class _FilesByDefault(click.Group):
    """`devmesh import FILE...` and `devmesh import loki ...`: unknown first words are files."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["files", *args]
        return super().parse_args(ctx, args)


@click.group("import", cls=_FilesByDefault)
def import_():
    """Import logs: files (JSON lines, journalctl -o json, syslog) or a Loki server."""


@import_.command("files")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default=None, help="host for syslog lines that do not name one")
@click.option("--service", default=None, help="service for lines that do not name one")
@click.option("--batch-size", default=1000, show_default=True)
@click.pass_obj
def import_files_cmd(settings, files, host, service, batch_size):
    """Import JSON lines, `journalctl -o json` exports or syslog lines through the pipeline."""
    from db.pool import Database
    from ingest.importer import import_files

    from db.tracing import process_provider, tracer_of

    db = Database(settings.db.resolved(settings.services)[0])
    ingestor = _ingestor(settings, db)
    with process_provider() as provider:                 # traced when OTEL_EXPORTER_OTLP_ENDPOINT is set
        ingestor.tracer = tracer_of(provider)
        totals = import_files(ingestor, files, batch_size=batch_size, default_host=host, default_service=service)
    click.echo(json.dumps(totals))


@click.command()
@click.option("--backfill", is_flag=True, required=True, help="embed every template that has no vector")
@click.option("--batch-size", default=64, show_default=True)
@click.pass_obj
def embed(settings, backfill, batch_size):
    """Embed templates that have no vector yet for the configured model (resumable)."""
    from db.pool import Database
    from ingest.embedders import build_embedder
    from ingest.embedding import EmbeddingWorker

    db = Database(settings.db.resolved(settings.services)[0])
    worker = EmbeddingWorker(db, build_embedder(settings.embed), settings.embed)
    done = worker.backfill(batch_size=batch_size, progress=True)
    click.echo(json.dumps({"embedded": done, "model": worker.embedder.name}))


@click.command()
@click.option("--stream", is_flag=True, help="line by line, masks only (no learned variables; constant memory)")
def parse(stream):
    """Template stdin's lines: prints TEMPLATE_ID<TAB>TEMPLATE per line, no database.

    Reads the whole input first and learns variables across its lines as the server's
    learner would (ingest/learn.py); --stream prints each line's masked template at once."""
    from ingest.templates import learned_templates_of, template_of

    out = sys.stdout
    if stream:
        for line in sys.stdin:
            template_id, template = template_of(line.rstrip("\n"))
            out.write(f"{template_id}\t{template}\n")
        return
    lines = [line.rstrip("\n") for line in sys.stdin]
    for template_id, template in learned_templates_of(lines):
        out.write(f"{template_id}\t{template}\n")


@click.command()
@click.option("--days", type=float, default=None, help="keep raw events this many days (default: settings)")
@click.option("--rollup-days", type=float, default=None, help="keep minute rollups this many days")
@click.pass_obj
def prune(settings, days, rollup_days):
    """Delete old events and rollups in small chunks; drop templates nothing refers to."""
    from db.pool import Database
    from ingest.retention import prune as run_prune

    retention = settings.retention.model_copy(update={k: v for k, v in (("events_days", days),
                                                                         ("rollups_days", rollup_days)) if v})
    db = Database(settings.db.resolved(settings.services)[0])
    click.echo(json.dumps(run_prune(db, retention)))


@import_.command("loki")
@click.option("--url", required=True, help="the Loki server, e.g. http://loki:3100")
@click.option("--query", required=True, help='a LogQL log query, e.g. \'{job="nginx"}\'')
@click.option("--since", default="24h", show_default=True, help="how far back (15m, 6h, 2d) or ISO 8601")
@click.option("--until", default=None, help="ISO 8601 end (default: now)")
@click.option("--tenant", default=None, help="X-Scope-OrgID for multi-tenant Loki")
@click.option("--limit", default=1000, show_default=True, help="entries per page")
@click.option("--state", "state_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="resume file (default under ~/.cache/devmesh)")
@click.pass_obj
def import_loki(settings, url, query, since, until, tenant, limit, state_path):
    """Pull history from Loki (query_range, forward, paged, resumable) into the pipeline."""
    import hashlib
    from datetime import datetime, timezone

    from db.pool import Database
    from ingest.loki_import import pull
    from ingest.normalize import RecordError, parse_timestamp
    from ingest.normalize import parse_duration

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        end = parse_timestamp(until) if until else now
        start = parse_timestamp(since) if not since[-1:] in "smhdw" else now - parse_duration(since)
    except (RecordError, ValueError) as exc:
        raise click.BadParameter(str(exc)) from None
    key = hashlib.sha256(f"{url}|{query}".encode()).hexdigest()[:16]
    state = state_path or settings.services.cache_dir / f"loki-import-{key}.json"
    db = Database(settings.db.resolved(settings.services)[0])
    try:
        totals = pull(_ingestor(settings, db), url, query, start, end, state, tenant, limit, settings.loki)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(totals))
