"""DevMesh server: FastAPI assembly (lifespan, routers, auth, errors) and the `devmesh` CLI.

Everything stateful (settings, the MariaDB pools, the embedder, the embedding worker) is
built here, once, and handed to the routers through `app.state`; nothing below opens a
connection at import time.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import sys
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.notify import Notifier, NotifySettings
from db.graph import Graph, GraphUnavailable
from db.migrate import migrate as run_migrations
from db.pool import Database, DatabaseUnavailable
from db.settings import DBSettings, GraphSettings, ServicesSettings
from detectors.cycle import run_cycle
from detectors.loop import DetectorLoop
from detectors.settings import DetectorSettings
from graphs.http import router as incidents_router
from graphs.investigate import Context as InvestigationContext
from graphs.worker import InvestigationPool, InvestigationSettings
from ingest.embedding import EmbeddingWorker
from ingest.embedders import EmbedSettings, build_embedder
from ingest.http import router as ingest_router
from ingest.pipeline import IngestSettings, Ingestor
from retrieval.enrich import EnrichmentWorker, refresh_inferred
from retrieval.graph_http import router as graph_router
from retrieval.http import router as search_router
from retrieval.topology import TopologySettings, TopologyState

__version__ = "0.1.0"
log = logging.getLogger("devmesh")


class ServerSettings(BaseSettings):
    """HTTP server settings. Tokens: comma-separated bearer tokens; empty = auth off."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_")

    host: str = "127.0.0.1"
    port: int = 8000
    api_tokens: str = ""

    @property
    def tokens(self) -> set[str]:
        return {t.strip() for t in self.api_tokens.split(",") if t.strip()}


class AppSettings:
    """All subsystem settings, read from the environment once."""

    def __init__(self, **overrides):
        self.server = overrides.get("server") or ServerSettings()
        self.services = overrides.get("services") or ServicesSettings()
        self.db = overrides.get("db") or DBSettings()
        self.graph = overrides.get("graph") or GraphSettings()
        self.ingest = overrides.get("ingest") or IngestSettings()
        self.embed = overrides.get("embed") or EmbedSettings()
        self.topology = overrides.get("topology") or TopologySettings()
        self.detect = overrides.get("detect") or DetectorSettings()
        self.investigate = overrides.get("investigate") or InvestigationSettings()
        self.notify = overrides.get("notify") or NotifySettings()


def error_body(code: str, message: str, detail=None) -> dict:
    return {"error": {"code": code, "message": message, "detail": detail}}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(settings: AppSettings | None = None) -> FastAPI:
    settings = settings or AppSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rw_url, ro_url = settings.db.resolved(settings.services)
        app.state.settings = settings
        app.state.db = Database(rw_url, settings.db.pool_size, settings.db.connect_timeout_s)
        app.state.db_ro = Database(ro_url, max(2, settings.db.pool_size // 2), settings.db.connect_timeout_s)
        app.state.graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name,
                                settings.graph.timeout_ms)
        app.state.embedder = build_embedder(settings.embed)
        app.state.ingestor = Ingestor(app.state.db, settings.ingest)
        app.state.embed_worker = EmbeddingWorker(app.state.db, app.state.embedder, settings.embed)
        app.state.started = time.time()
        app.state.embed_worker.start()
        app.state.ingestor.on_new_templates = app.state.embed_worker.enqueue
        app.state.topology = TopologyState(settings.topology.inventory, app.state.graph,
                                           lambda services: setattr(app.state.ingestor, "services", services))
        await run_in_threadpool(app.state.topology.start)
        app.state.enrichment = EnrichmentWorker(lambda: _refresh_inferred(app.state, settings),
                                                settings.topology.infer_interval_s)
        app.state.enrichment.start()
        app.state.notifier = Notifier(settings.notify)
        app.state.investigations = InvestigationPool(
            InvestigationContext(app.state.db, app.state.graph, app.state.notifier,
                                 settings.investigate.baseline_minutes), settings.investigate)
        app.state.investigations.start()
        app.state.detectors = DetectorLoop(lambda now: _detect(app.state, settings, now), settings.detect.interval_s,
                                           lambda _opened: app.state.investigations.wake())
        app.state.detectors.start()
        try:
            yield
        finally:
            app.state.detectors.stop()
            app.state.investigations.stop()
            app.state.enrichment.stop()
            app.state.embed_worker.stop()
            app.state.db.close()
            app.state.db_ro.close()
            app.state.graph.close()

    app = FastAPI(title="DevMesh", version=__version__, lifespan=lifespan)
    tokens = settings.server.tokens

    @app.middleware("http")
    async def auth(request: Request, call_next):
        if tokens and request.url.path not in ("/health",):
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or token.strip() not in tokens:
                return JSONResponse(error_body(
                    "unauthorized", "missing or invalid bearer token",
                    "send `Authorization: Bearer <token>` with one of DEVMESH_API_TOKENS"), status_code=401,
                    headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.exception_handler(DatabaseUnavailable)
    async def db_down(_: Request, exc: DatabaseUnavailable):
        return JSONResponse(error_body("database_unavailable", "MariaDB is unavailable; nothing was "
                                       "written, retry later", str(exc)), 503, headers={"Retry-After": "5"})

    @app.exception_handler(GraphUnavailable)
    async def graph_down(_: Request, exc: GraphUnavailable):
        return JSONResponse(error_body("graph_unavailable", "FalkorDB is unavailable; retry later", str(exc)),
                            503, headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse(error_body("invalid_request", "the request does not match the API", detail), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        if isinstance(exc.detail, dict) and "code" in exc.detail:        # raised by our routers
            body = error_body(exc.detail["code"], exc.detail["message"], exc.detail.get("detail"))
        else:
            body = error_body(f"http_{exc.status_code}", str(exc.detail))
        return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; see the server log",
                                       type(exc).__name__), 500)

    app.include_router(ingest_router)
    app.include_router(search_router)
    app.include_router(graph_router)
    app.include_router(incidents_router)

    @app.get("/health")
    def health(request: Request):
        st = request.app.state
        state = {"mariadb": _check(st.db.ping), "falkordb": _check(st.graph.ping),
                 "embedder": {"status": "ok", "model": st.embedder.name, **st.embed_worker.status()},
                 "inventory": {"status": "ok" if not st.topology.problems else "problems", **st.topology.status()}}
        ok = state["mariadb"]["status"] == "ok" and state["falkordb"]["status"] == "ok"
        return JSONResponse({"status": "ok" if ok else "degraded", "dependencies": state},
                            200 if ok else 503)

    @app.get("/info")
    def info(request: Request):
        from db import stats

        st = request.app.state
        counts = stats.counts(st.db_ro)
        return {"version": __version__, "canon_version": st.ingestor.canon_version,
                "embedder": {"name": st.embedder.name, "dim": st.embedder.dim,
                             **st.embed_worker.status()},
                "counts": counts, "inventory": st.topology.status(),
                "unmapped": st.ingestor.services.unmapped_summary() if st.ingestor.services else None,
                "enrichment": {"last": st.enrichment.last, "error": st.enrichment.last_error},
                "detectors": {"last": st.detectors.last, "error": st.detectors.last_error},
                "notifications": {"failures": st.notifier.failures},
                "uptime_s": round(time.time() - st.started, 1)}

    return app


def _refresh_inferred(state, settings: AppSettings) -> dict | None:
    inventory = state.topology.inventory
    if inventory is None:
        return None
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return refresh_inferred(state.db, state.graph, inventory, now, timedelta(seconds=settings.topology.infer_window_s))


def _detect(state, settings: AppSettings, now: datetime):
    services = state.ingestor.services
    return run_cycle(state.db, state.graph, settings.detect, now, services.names() if services else None)


def _check(fn) -> dict:
    start = time.perf_counter()
    try:
        version = fn()
        return {"status": "ok", "version": version, "latency_ms": round((time.perf_counter() - start) * 1e3, 2)}
    except Exception as exc:  # noqa: BLE001 - health reports any failure as data
        return {"status": "down", "error": str(exc)}


# ----------------------------------------------------------------------------- CLI

@click.group()
@click.version_option(__version__)
def main():
    """DevMesh: local-first incident investigator."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help="bind address (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default 8000)")
def serve(host, port):
    """Serve the HTTP API."""
    import uvicorn

    settings = AppSettings()
    host = host or settings.server.host
    if not _is_loopback(host) and not settings.server.tokens:
        raise click.ClickException(f"refusing to bind {host} without auth: set DEVMESH_API_TOKENS "
                                   "or bind 127.0.0.1")
    uvicorn.run(create_app(settings), host=host, port=port or settings.server.port, log_level="info")


@main.command()
def migrate():
    """Apply pending database migrations."""
    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    applied = run_migrations(db)
    click.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


@main.group()
def services():
    """Start, stop and inspect the local MariaDB and FalkorDB."""


@services.command("up")
def services_up():
    from db import local

    settings = AppSettings()
    try:
        for line in local.up(settings.services, manage_db=not settings.db.url,
                             manage_graph=not settings.graph.url):
            click.echo(line)
    except local.ServiceError as exc:
        raise click.ClickException(str(exc)) from None


@services.command("down")
def services_down():
    from db import local

    for line in local.down(AppSettings().services):
        click.echo(line)


@services.command("status")
@click.option("--json", "as_json", is_flag=True)
def services_status(as_json):
    from db import local

    rows = local.status(AppSettings().services)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(f"{r['service']:<9} {r['state']:<8} {r['address']:<16} {r['version']:<40} {r['datadir']}")


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default=None, help="host for syslog lines that do not name one")
@click.option("--service", default=None, help="service for lines that do not name one")
@click.option("--batch-size", default=1000, show_default=True)
def import_(files, host, service, batch_size):
    """Import JSON lines, `journalctl -o json` exports or syslog lines through the pipeline."""
    from ingest.importer import import_files

    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    totals = import_files(Ingestor(db, settings.ingest), files, batch_size=batch_size,
                          default_host=host, default_service=service)
    click.echo(json.dumps(totals))


@main.command("load-inventory")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def load_inventory_cmd(path):
    """Validate inventory.yaml and load it into FalkorDB (idempotent; removes what left it)."""
    from ingest.inventory import InventoryError, load
    from retrieval.topology import load_inventory

    settings = AppSettings()
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


@main.command("infer-edges")
@click.option("--at", "at", default=None, help="ISO 8601 end of the window (default: now)")
@click.option("--window", default="1h", show_default=True, help="how far back to look (15m, 1h, 2d)")
def infer_edges_cmd(at, window):
    """Learn DEPENDS_ON edges from the window's logs into the graph (replaces inferred edges)."""
    from ingest.inventory import load
    from ingest.normalize import parse_timestamp
    from retrieval.http import parse_duration

    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    now = parse_timestamp(at) if at else datetime.now(timezone.utc).replace(tzinfo=None)
    click.echo(json.dumps(refresh_inferred(db, graph, load(settings.topology.inventory), now,
                                           parse_duration(window))))


@main.command()
@click.option("--once", is_flag=True, required=True, help="run one cycle and exit")
@click.option("--at", "at", default=None, help="ISO 8601 replay clock (default: now)")
def detect(once, at):
    """Run one detector cycle (the server runs one every DEVMESH_DETECT_INTERVAL_S)."""
    from ingest.inventory import InventoryError, load
    from ingest.normalize import parse_timestamp
    from ingest.service_map import ServiceMap

    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    try:
        units = ServiceMap(load(settings.topology.inventory)).names()
    except InventoryError:
        units = {}
    now = parse_timestamp(at) if at else datetime.now(timezone.utc).replace(tzinfo=None)
    click.echo(json.dumps(run_cycle(db, graph, settings.detect, now, units).as_dict()))


@main.command("investigate")
@click.argument("incident_id", type=int)
def investigate_cmd(incident_id):
    """Investigate (again) one incident now, in this process, and print its report."""
    from db import incidents as incident_sql
    from graphs.investigate import investigate

    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    if incident_sql.get(db, incident_id) is None:
        raise click.ClickException(f"no incident {incident_id}; see `devmesh incidents`")
    graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name, settings.graph.timeout_ms)
    state = investigate(incident_id, InvestigationContext(db, graph, Notifier(settings.notify),
                                                          settings.investigate.baseline_minutes))
    click.echo(state["markdown"])


@main.command("incidents")
@click.option("--status", default=None, help="open, investigating, reported or closed")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def incidents_cmd(status, limit, as_json):
    """The latest incidents, newest first."""
    from db import incidents as incident_sql

    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    rows = incident_sql.listing(db, [status] if status else None, None, None, limit)
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'id':>5}  {'opened (UTC)':<20} {'status':<13} {'severity':<9} title")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['opened_at'][:19]:<20} {r['status']:<13} {r['severity']:<9} {r['title']}")


@main.command()
@click.option("--backfill", is_flag=True, required=True, help="embed every template that has no vector")
@click.option("--batch-size", default=64, show_default=True)
def embed(backfill, batch_size):
    """Embed templates that have no vector yet for the configured model (resumable)."""
    settings = AppSettings()
    db = Database(settings.db.resolved(settings.services)[0])
    worker = EmbeddingWorker(db, build_embedder(settings.embed), settings.embed)
    done = worker.backfill(batch_size=batch_size, progress=True)
    click.echo(json.dumps({"embedded": done, "model": worker.embedder.name}))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.pass_context
def ship(ctx):
    """Ship journald entries to a DevMesh server (`devmesh ship --help`)."""
    from shipper.cli import main as ship_main

    sys.exit(ship_main(ctx.args))


@main.command()
def parse():
    """Template each stdin line: prints TEMPLATE_ID<TAB>TEMPLATE per line, no database."""
    from ingest.templates import template_of

    out = sys.stdout
    for line in sys.stdin:
        template_id, template = template_of(line.rstrip("\n"))
        out.write(f"{template_id}\t{template}\n")


@main.group()
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
def bench_ingest(as_json, lines, batch_size):
    from evals.bench_ingest import run

    settings = AppSettings()
    result = run(settings.db.resolved(settings.services)[0], settings.ingest, lines, batch_size)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("search")
@click.option("--json", "as_json", is_flag=True)
@click.option("--templates", default=100000, show_default=True)
@click.option("--queries", default=200, show_default=True)
@click.option("--ef-search", default=None, type=int, help="HNSW candidate list (default: DEVMESH_EMBED_SEARCH_EF)")
def bench_search(as_json, templates, queries, ef_search):
    from evals.bench_search import run

    settings = AppSettings()
    result = run(settings.db.resolved(settings.services)[0], templates, queries,
                 ef_search=ef_search or settings.embed.search_ef)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("retrieve")
@click.option("--json", "as_json", is_flag=True)
@click.option("--templates", default=100000, show_default=True)
@click.option("--services", default=200, show_default=True)
@click.option("--queries", default=100, show_default=True)
def bench_retrieve(as_json, templates, services, queries):
    from evals.bench_retrieve import run

    settings = AppSettings()
    result = run(settings.db.resolved(settings.services)[0], settings.graph.resolved_url(settings.services),
                 templates, services, queries)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


@bench.command("ship")
@click.option("--json", "as_json", is_flag=True)
@click.option("--entries", default=20000, show_default=True)
@click.option("--batch-size", default=50, show_default=True)
def bench_ship(as_json, entries, batch_size):
    from evals.bench_ship import run

    settings = AppSettings()
    result = run(settings.db.resolved(settings.services)[0], entries, batch_size)
    click.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
