"""`devmesh load-inventory | infer-edges`."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click


@click.command("load-inventory")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def load_inventory_cmd(settings, path):
    """Validate inventory.yaml, load it into FalkorDB and make it the one every server follows.

    Idempotent; what left the file leaves the graph; running servers switch to it within
    DEVMESH_INVENTORY_POLL_S."""
    import mariadb

    from db.graph import Graph, GraphUnavailable
    from db.pool import Database, DatabaseUnavailable
    from ingest.inventory import InventoryError, parse
    from retrieval.topology import publish

    path = (path or settings.topology.inventory).resolve()
    try:
        body = path.read_text()
        inventory = parse(body, str(path))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except InventoryError as exc:
        raise click.ClickException(f"{path} is invalid:\n" + "\n".join(exc.problems)) from None
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    db = Database(settings.db.resolved(settings.services)[0])
    try:
        summary = publish(db, graph, inventory, str(path), body)
    except (GraphUnavailable, DatabaseUnavailable) as exc:
        raise click.ClickException(f"{exc}; nothing was published (run `make services` or check "
                                   "DEVMESH_DB_URL / DEVMESH_GRAPH_URL)") from None
    except mariadb.ProgrammingError as exc:
        raise click.ClickException(f"{exc}: the database schema is behind; run `devmesh migrate` and "
                                   "load it again (the graph already holds it)") from None
    finally:
        db.close()
        graph.close()
    for warning in inventory.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(json.dumps({"inventory": str(path), **summary, "warnings": len(inventory.warnings)}))


@click.command("infer-edges")
@click.option("--at", "at", default=None, help="ISO 8601 end of the window (default: now)")
@click.option("--window", default="1h", show_default=True, help="how far back to look (15m, 1h, 2d)")
@click.pass_obj
def infer_edges_cmd(settings, at, window):
    """Learn DEPENDS_ON edges from the window's logs into the graph (replaces inferred edges)."""
    from db.graph import Graph
    from db.pool import Database
    from retrieval.enrich import refresh_inferred
    from ingest.inventory import load
    from ingest.normalize import parse_timestamp
    from ingest.normalize import parse_duration

    db = Database(settings.db.resolved(settings.services)[0])
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    now = parse_timestamp(at) if at else datetime.now(timezone.utc).replace(tzinfo=None)
    click.echo(json.dumps(refresh_inferred(db, graph, load(settings.topology.inventory), now,
                                           parse_duration(window))))


@click.group("runbooks")
def runbooks_cmd():
    """Runbook documents: ingest a directory (Markdown, reStructuredText, text), list them."""


@runbooks_cmd.command("ingest")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def runbooks_ingest(settings, directory):
    """Ingest DIRECTORY's runbooks: sections by heading, embedded, linked to their services and templates.

    Idempotent: an unchanged file is skipped, a changed one rewrites only its changed
    sections, a removed one is marked gone. A file that cannot be read is reported on
    stderr and skipped (exit 1 when any was); the others are ingested."""
    from db.graph import Graph
    from db.pool import Database
    from ingest.embedders import build_embedder
    from retrieval.runbooks import ingest_dir

    db = Database(settings.db.resolved(settings.services)[0])
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    try:
        report = ingest_dir(db, graph, build_embedder(settings.embed), directory, _inventory(settings, db))
    except FileNotFoundError as exc:
        raise click.ClickException(f"{exc}; give the directory that holds the runbook files") from None
    finally:
        db.close()
        graph.close()
    for error in report.errors:
        click.echo(f"rejected: {error}", err=True)
    click.echo(json.dumps(report.as_dict()))
    if report.errors:
        raise SystemExit(1)


def _inventory(settings, db):
    """The inventory in force: the one published in MariaDB, else the configured file, else none."""
    from db import inventory as inventory_sql
    from ingest.inventory import InventoryError, parse

    current = inventory_sql.current(db)
    try:
        if current is not None:
            return parse(current["body"], current["source"])
        path = settings.topology.inventory
        return parse(path.read_text(), str(path)) if path.exists() else None
    except InventoryError:
        return None


@runbooks_cmd.command("list")
@click.pass_obj
def runbooks_list(settings):
    """The ingested runbooks, one JSON line each (id, title, path, sections, version)."""
    from db import runbooks as runbook_sql
    from db.pool import Database

    db = Database(settings.db.resolved(settings.services)[1])
    try:
        for doc in runbook_sql.documents(db):
            click.echo(json.dumps({k: doc[k] for k in ("id", "title", "path", "sections", "version")}))
    finally:
        db.close()
