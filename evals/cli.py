"""`devmesh bench ...`: every benchmark prints one JSON object last (see README)."""
from __future__ import annotations

import json

import click


@click.group()
def bench():
    """Benchmarks; each prints one JSON object last."""


@bench.command("parse")
@click.option("--json", "as_json", is_flag=True)
@click.option("--truth", type=click.Choice(["corrected", "original", "loghub2"]), default="corrected")
def bench_parse(as_json, truth):
    from evals.templates import run

    click.echo(json.dumps(run(truth)) if as_json else json.dumps(run(truth), indent=2))


@bench.command("ingest")
@click.option("--json", "as_json", is_flag=True)
@click.option("--lines", default=50000, show_default=True)
@click.option("--batch-size", default=1000, show_default=True)
@click.pass_obj
def bench_ingest(settings, as_json, lines, batch_size):
    from evals.bench_ingest import run

    result = run(settings.db.resolved(settings.services)[0], settings.ingest, lines, batch_size)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("search")
@click.option("--json", "as_json", is_flag=True)
@click.option("--templates", default=100000, show_default=True)
@click.option("--queries", default=200, show_default=True)
@click.option("--ef-search", default=None, type=int, help="HNSW candidate list (default: DEVMESH_EMBED_SEARCH_EF)")
@click.pass_obj
def bench_search(settings, as_json, templates, queries, ef_search):
    from evals.bench_search import run

    result = run(settings.db.resolved(settings.services)[0], templates, queries,
                 ef_search=ef_search or settings.embed.search_ef)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("retrieve")
@click.option("--json", "as_json", is_flag=True)
@click.option("--templates", default=100000, show_default=True)
@click.option("--services", default=200, show_default=True)
@click.option("--queries", default=100, show_default=True)
@click.pass_obj
def bench_retrieve(settings, as_json, templates, services, queries):
    from evals.bench_retrieve import run

    result = run(settings.db.resolved(settings.services)[0], settings.graph.resolved_url(settings.services),
                 templates, services, queries)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("detect")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events-per-day", default=1_000_000, show_default=True)
@click.option("--services", default=200, show_default=True)
@click.pass_obj
def bench_detect(settings, as_json, events_per_day, services):
    from evals.bench_detect import run

    result = run(settings.db.resolved(settings.services)[0], events_per_day, services)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("investigate")
@click.option("--json", "as_json", is_flag=True)
@click.option("--runs", default=20, show_default=True)
@click.pass_obj
def bench_investigate(settings, as_json, runs):
    from evals.bench_investigate import run

    result = run(settings.db.resolved(settings.services)[0], settings.graph.resolved_url(settings.services), runs)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("ship")
@click.option("--json", "as_json", is_flag=True)
@click.option("--entries", default=20000, show_default=True)
@click.option("--batch-size", default=50, show_default=True)
@click.pass_obj
def bench_ship(settings, as_json, entries, batch_size):
    from evals.bench_ship import run

    result = run(settings.db.resolved(settings.services)[0], entries, batch_size)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))
