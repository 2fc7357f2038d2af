"""`devmesh load-inventory | infer-edges`."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from db.graph import Graph, GraphUnavailable
from db.pool import Database
from retrieval.enrich import refresh_inferred


@click.command("load-inventory")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def load_inventory_cmd(settings, path):
    """Validate inventory.yaml and load it into FalkorDB (idempotent; removes what left it)."""
    from ingest.inventory import InventoryError, load
    from retrieval.topology import load_inventory

    path = path or settings.topology.inventory
    try:
        inventory = load(path)
    except InventoryError as exc:
        raise click.ClickException(f"{path} is invalid:\n" + "\n".join(exc.problems)) from None
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    try:
        summary = load_inventory(graph, inventory)
    except GraphUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({"inventory": str(path), **summary}))


@click.command("infer-edges")
@click.option("--at", "at", default=None, help="ISO 8601 end of the window (default: now)")
@click.option("--window", default="1h", show_default=True, help="how far back to look (15m, 1h, 2d)")
@click.pass_obj
def infer_edges_cmd(settings, at, window):
    """Learn DEPENDS_ON edges from the window's logs into the graph (replaces inferred edges)."""
    from ingest.inventory import load
    from ingest.normalize import parse_timestamp
    from ingest.normalize import parse_duration

    db = Database(settings.db.resolved(settings.services)[0])
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    now = parse_timestamp(at) if at else datetime.now(timezone.utc).replace(tzinfo=None)
    click.echo(json.dumps(refresh_inferred(db, graph, load(settings.topology.inventory), now,
                                           parse_duration(window))))
