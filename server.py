"""DevMesh server: FastAPI assembly (lifespan, routers, auth, errors) and the `devmesh` CLI.

Everything stateful (settings, the MariaDB pools, the embedder, the embedding worker) is
built here, once, and handed to the routers through `app.state`; nothing below opens a
connection at import time.

Importing this module is cheap on purpose (issue 14: `devmesh --help` took 5 s): the CLI
loads a command's module only when that command runs, settings are read when first used,
and the app's own imports (FastAPI, LangGraph, torch through the embedder) happen inside
`create_app`.
"""

import functools
import importlib
import ipaddress
import logging
import sys
import time
from datetime import datetime, timedelta, timezone

import click

__version__ = "0.1.0"
log = logging.getLogger("devmesh")


@functools.cache
def _server_settings():
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class ServerSettings(BaseSettings):
        """HTTP server settings. Tokens: comma-separated bearer tokens; empty = auth off."""

        model_config = SettingsConfigDict(env_prefix="DEVMESH_")

        host: str = "127.0.0.1"
        port: int = 8000
        api_tokens: str = ""
        max_body_bytes: int = 1024 * 1024      # routes other than the receivers (which have their own)

        @property
        def tokens(self) -> dict[str, set[str]]:
            """token -> its scopes. `TOKEN` alone is admin (as before scopes existed);
            `TOKEN:ingest`, `TOKEN:read`, `TOKEN:read+ingest` limit it."""
            out: dict[str, set[str]] = {}
            for item in (t.strip() for t in self.api_tokens.split(",")):
                if not item:
                    continue
                token, _, scopes = item.partition(":")
                names = {x.strip() for x in scopes.split("+") if x.strip()} or {"admin"}
                unknown = names - set(SCOPES)
                if unknown:
                    raise ValueError(f"DEVMESH_API_TOKENS: unknown scope(s) {sorted(unknown)}; use {', '.join(SCOPES)}")
                out[token.strip()] = {s for n in names for s in SCOPES[n]}
            return out
    return ServerSettings


# what each scope may do: ingest = the receivers (shippers, Alertmanager); read = every GET and
# the chat (which then cannot open incidents); admin = everything (reload, incidents, feedback)
SCOPES = {"ingest": {"ingest"}, "read": {"read"}, "admin": {"ingest", "read", "admin"}}
INGEST_PATHS = {"/ingest/logs", "/loki/api/v1/push", "/v1/logs", "/alerts/alertmanager", "/upload"}
READ_POSTS = {"/chat", "/analyze"}


def required_scope(method: str, path: str) -> str:
    if method == "POST" and path in INGEST_PATHS:
        return "ingest"
    if method in ("GET", "HEAD") or (method == "POST" and path in READ_POSTS):
        return "read"
    return "admin"


# each subsystem's settings class, imported (and read from the environment) on first use
_SETTINGS = {"server": _server_settings, "services": "db.settings:ServicesSettings",
             "db": "db.settings:DBSettings", "graph": "db.settings:GraphSettings",
             "ingest": "ingest.pipeline:IngestSettings", "embed": "ingest.embedders:EmbedSettings",
             "topology": "retrieval.topology:TopologySettings", "detect": "detectors.settings:DetectorSettings",
             "investigate": "graphs.worker:InvestigationSettings", "notify": "agents.notify:NotifySettings",
             "loki": "ingest.loki:LokiSettings", "retention": "ingest.retention:RetentionSettings",
             "prometheus": "retrieval.prometheus:PrometheusSettings", "llm": "agents.llm:LLMSettings"}


def _settings_class(spec):
    if callable(spec):
        return spec()
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def __getattr__(name: str):
    if name == "ServerSettings":                 # defined on first use: pydantic-settings is not cheap
        return _server_settings()
    raise AttributeError(name)


class AppSettings:
    """All subsystem settings, each read from the environment once, when first used (a
    command that needs only the database never imports the LLM's settings)."""

    def __init__(self, **overrides):
        unknown = set(overrides) - set(_SETTINGS)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, value in overrides.items():
            if value is not None:
                setattr(self, name, value)

    def __getattr__(self, name: str):
        if name not in _SETTINGS:
            raise AttributeError(name)
        value = _settings_class(_SETTINGS[name])()
        setattr(self, name, value)
        return value


def error_body(code: str, message: str, detail=None) -> dict:
    return {"error": {"code": code, "message": message, "detail": detail}}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(settings: AppSettings | None = None):
    """The FastAPI app, wired to `settings`."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import asynccontextmanager

    import mariadb
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from agents.llm import build_chat_model
    from agents.notify import Notifier
    from db import embeddings, stats
    from db import incidents as incident_sql
    from db.checkpoint import MariaDBSaver
    from db.graph import Graph, GraphUnavailable
    from db.migrate import migrate as run_migrations
    from db.pool import Database, DatabaseUnavailable
    from db.version import UnsupportedServer, server_info
    from detectors.loop import detector_loop
    from graphs.alerts import router as alerts_router
    from graphs.chat import build as build_chat_graph
    from graphs.chat_http import router as chat_router
    from graphs.http import router as incidents_router
    from graphs.investigate import Context as InvestigationContext
    from graphs.worker import InvestigationPool
    from ingest.background import Periodic
    from ingest.body_limit import BodyLimit
    from ingest.embedders import build_embedder
    from ingest.embedding import EmbeddingWorker
    from ingest.http import router as ingest_router
    from ingest.pipeline import Ingestor
    from ingest.retention import prune as prune_old
    from ingest.telemetry import Metrics
    from retrieval.graph_http import router as graph_router
    from retrieval.http import router as search_router
    from retrieval.topology import TopologyState

    settings = settings or AppSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rw_url, ro_url = settings.db.resolved(settings.services)
        app.state.settings = settings
        app.state.metrics = metrics
        timeouts = (settings.db.connect_timeout_s, settings.db.read_timeout_s)
        app.state.db = Database(rw_url, settings.db.pool_size, *timeouts)
        app.state.db_ro = Database(ro_url, max(2, settings.db.pool_size // 2), *timeouts)
        app.state.health_pool = ThreadPoolExecutor(2, thread_name_prefix="health")
        migrator = Database(rw_url, 1, settings.db.connect_timeout_s, 3600)   # an index build may take a while
        try:                                    # servers migrate at start (a named lock serialises them)
            applied = await run_in_threadpool(run_migrations, migrator)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
        except DatabaseUnavailable as exc:
            log.warning("could not migrate at start (%s); run `devmesh migrate` once MariaDB is up", exc)
        except UnsupportedServer as exc:
            log.error("%s", exc)
        finally:
            migrator.close()
        app.state.mariadb = None                # {"version", "supported", "vector"}, read on first /health
        try:
            app.state.mariadb = await run_in_threadpool(server_info, app.state.db)
            log.info("MariaDB %s (VECTOR %s)", app.state.mariadb["version"],
                     "works" if app.state.mariadb["vector"] else "does NOT work")
        except DatabaseUnavailable:
            pass
        app.state.graph = Graph(settings.graph.resolved_url(settings.services), settings.graph.name,
                                settings.graph.timeout_ms)
        app.state.embedder = build_embedder(settings.embed)
        app.state.llm = build_chat_model(settings.llm)
        app.state.chat_graph = build_chat_graph(MariaDBSaver(app.state.db))
        app.state.ingestor = Ingestor(app.state.db, settings.ingest)
        app.state.embed_worker = EmbeddingWorker(app.state.db, app.state.embedder, settings.embed)
        app.state.started = time.time()
        app.state.embed_worker.start()
        app.state.ingestor.on_new_templates = app.state.embed_worker.enqueue
        app.state.topology = TopologyState(settings.topology.inventory, app.state.graph,
                                           lambda services: setattr(app.state.ingestor, "services", services),
                                           app.state.db)
        await run_in_threadpool(app.state.topology.start)
        app.state.inventory_watch = Periodic("inventory-follow", settings.topology.inventory_poll_s,
                                             app.state.topology.follow)
        app.state.inventory_watch.start()
        app.state.enrichment = Periodic("graph-enrichment", settings.topology.infer_interval_s,
                                        lambda: _refresh_inferred(app.state, settings))
        app.state.enrichment.start()
        app.state.notifier = Notifier(settings.notify)
        app.state.investigations = InvestigationPool(
            InvestigationContext(app.state.db, app.state.graph, app.state.notifier,
                                 settings.investigate.baseline_minutes, lambda: app.state.topology.inventory,
                                 _prometheus(settings.prometheus), settings.prometheus.max_services,
                                 app.state.llm, app.state.db_ro, settings.llm.structured, settings.llm.max_rounds,
                                 tuple(settings.llm.mask_patterns)),
            settings.investigate)
        app.state.investigations.start()
        app.state.detectors = detector_loop(lambda now: _detect(app.state, settings, now), settings.detect.interval_s,
                                            lambda _opened: app.state.investigations.wake())
        app.state.investigations.on_done = metrics.investigation.observe
        metrics.gauges({
            "devmesh_templates": ("Templates known", lambda: stats.counts(app.state.db_ro)["templates"]),
            "devmesh_embedding_queue_depth": ("Templates waiting for a vector",
                                              lambda: app.state.embed_worker.status()["queue_depth"]),
            "devmesh_embedding_failures": ("Embedding failures since start",
                                           lambda: app.state.embed_worker.status()["failures"]),
            "devmesh_embedding_missing": ("Templates without a vector for the active model (the embedding lag)",
                                          lambda: embeddings.count_missing(app.state.db_ro,
                                                                           app.state.embed_worker.table())),
            "devmesh_incidents": ("Incidents by status", lambda: {(("status", s),): n for s, n in
                                                                  incident_sql.by_status(app.state.db_ro).items()}),
            "devmesh_unmapped_records": ("Records whose service is not in the inventory",
                                         lambda: (app.state.ingestor.services.unmapped_summary()["records"]
                                                  if app.state.ingestor.services else 0)),
        })
        app.state.detectors.start()
        app.state.retention = Periodic("retention", settings.retention.interval_s,
                                       lambda: prune_old(app.state.db, settings.retention))
        app.state.retention.start()
        try:
            yield
        finally:
            app.state.retention.stop()
            app.state.detectors.stop()
            app.state.investigations.stop()
            app.state.enrichment.stop()
            app.state.inventory_watch.stop()
            app.state.embed_worker.stop()
            app.state.db.close()
            app.state.db_ro.close()
            app.state.health_pool.shutdown(wait=False, cancel_futures=True)
            app.state.graph.close()

    app = FastAPI(title="DevMesh", version=__version__, lifespan=lifespan)
    tokens = settings.server.tokens
    metrics = Metrics()

    @app.middleware("http")
    async def timing(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.http.labels(getattr(route, "path", "unmatched"), request.method,
                            str(response.status_code)).observe(time.perf_counter() - start)
        return response

    @app.middleware("http")
    async def auth(request: Request, call_next):
        request.state.scopes = set(SCOPES["admin"])              # auth off: loopback only, everything
        if tokens and request.url.path not in ("/health",):
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or token.strip() not in tokens:
                return JSONResponse(error_body(
                    "unauthorized", "missing or invalid bearer token",
                    "send `Authorization: Bearer <token>` with one of DEVMESH_API_TOKENS"), status_code=401,
                    headers={"WWW-Authenticate": "Bearer"})
            request.state.scopes = tokens[token.strip()]
            needed = required_scope(request.method, request.url.path)
            if needed not in request.state.scopes:
                return JSONResponse(error_body(
                    "forbidden", f"this token may not {request.method} {request.url.path}",
                    f"it needs the {needed} scope; give the client a token listed as TOKEN:{needed} "
                    "(or TOKEN alone, admin) in DEVMESH_API_TOKENS"), status_code=403)
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

    @app.exception_handler(mariadb.ProgrammingError)
    async def schema_error(request: Request, exc: mariadb.ProgrammingError):
        if getattr(exc, "errno", None) == 1146:             # table doesn't exist
            return JSONResponse(error_body("schema_missing", "the database schema is behind this server; "
                                           "run `devmesh migrate`", str(exc)), 503)
        log.exception("database error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; see the server log", type(exc).__name__), 500)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; see the server log",
                                       type(exc).__name__), 500)

    app.add_middleware(BodyLimit, limit=settings.server.max_body_bytes)
    app.include_router(ingest_router)
    app.include_router(search_router)
    app.include_router(graph_router)
    app.include_router(incidents_router)
    app.include_router(alerts_router)
    app.include_router(chat_router)

    @app.get("/health")
    def health(request: Request):
        st = request.app.state
        state = {"mariadb": _mariadb_health(st), "falkordb": _check(st.graph.ping, st.health_pool),
                 "embedder": {"status": "ok", "model": st.embedder.name, **st.embed_worker.status()},
                 "inventory": {"status": "ok" if not st.topology.problems else "problems", **st.topology.status()}}
        ok = state["mariadb"]["status"] == "ok" and state["falkordb"]["status"] == "ok"
        return JSONResponse({"status": "ok" if ok else "degraded", "dependencies": state},
                            200 if ok else 503)

    @app.get("/metrics")
    def prometheus_metrics():
        from starlette.responses import Response

        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/info")
    def info(request: Request):
        st = request.app.state
        counts = stats.counts(st.db_ro)
        return {"version": __version__, "canon_version": st.ingestor.canon_version,
                "embedder": {"name": st.embedder.name, "dim": st.embedder.dim,
                             **st.embed_worker.status()},
                "mariadb": st.mariadb or server_info(st.db_ro), "counts": counts,
                "inventory": st.topology.status(),
                "unmapped": st.ingestor.services.unmapped_summary() if st.ingestor.services else None,
                "enrichment": {"last": st.enrichment.last, "error": st.enrichment.last_error},
                "detectors": {"last": st.detectors.last, "error": st.detectors.last_error},
                "notifications": {"failures": st.notifier.failures},
                "uptime_s": round(time.time() - st.started, 1)}

    return app


def _refresh_inferred(state, settings: AppSettings) -> dict | None:
    from retrieval.enrich import refresh_inferred

    inventory = state.topology.inventory
    if inventory is None:
        return None
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return refresh_inferred(state.db, state.graph, inventory, now, timedelta(seconds=settings.topology.infer_window_s))


def _prometheus(settings):
    from retrieval.prometheus import Prometheus, load_queries

    if not settings.url:
        return None
    return Prometheus(settings.url, load_queries(settings.queries), settings.timeout_s)


def _detect(state, settings: AppSettings, now: datetime):
    from detectors.cycle import run_cycle

    services = state.ingestor.services
    with state.metrics.cycle.time():
        return run_cycle(state.db, state.graph, settings.detect, now, services.names() if services else None)


def _mariadb_health(state) -> dict:
    """The ping, plus the version check: a server that answers but is older than 11.7 (or has
    no working VECTOR) is `unsupported`, so the drift shows in /health."""
    from db.version import server_info

    check = _check(state.db.ping, state.health_pool)
    if check["status"] != "ok":
        return check
    if state.mariadb is None or state.mariadb["version"] != check["version"]:
        state.mariadb = server_info(state.db)          # restarted or upgraded since we last looked
    check.update(supported=state.mariadb["supported"], vector=state.mariadb["vector"])
    if not (check["supported"] and check["vector"]):
        check["status"] = "unsupported"
        check["error"] = (f"MariaDB {check['version']}: DevMesh needs >= 11.7 with a working VECTOR; "
                          "point DEVMESH_DB_URL at a newer server or use the managed one")
    return check


def _check(fn, pool=None, timeout_s: float = 2.0) -> dict:
    """One dependency's ping, answered within `timeout_s` whatever the dependency does (a
    frozen MariaDB used to hold /health for its 60 s read timeout, then say ok)."""
    from concurrent.futures import TimeoutError as Timeout

    start = time.perf_counter()
    try:
        version = pool.submit(fn).result(timeout_s) if pool is not None else fn()
        return {"status": "ok", "version": version, "latency_ms": round((time.perf_counter() - start) * 1e3, 2)}
    except Timeout:
        return {"status": "down", "error": f"no answer within {timeout_s:g} s (frozen or overloaded)"}
    except Exception as exc:  # noqa: BLE001 - health reports any failure as data
        return {"status": "down", "error": str(exc)}


# ----------------------------------------------------------------------------- CLI

# name -> (where it lives, what --help says): a command's module is imported only when it
# runs, so `devmesh --help` and the light commands start at once (tests/test_cli.py checks
# that each line here is the command's own first docstring line)
COMMANDS = {
    "serve": ("server:serve", "Serve the HTTP API."),
    "migrate": ("db.cli:migrate", "Apply pending database migrations."),
    "services": ("db.cli:services", "Start, stop and inspect the local MariaDB and FalkorDB."),
    "import": ("ingest.cli:import_", "Import logs: files (JSON lines, journalctl -o json, syslog) or a Loki server."),
    "embed": ("ingest.cli:embed", "Embed templates that have no vector yet for the configured model (resumable)."),
    "parse": ("ingest.cli:parse", "Template each stdin line: prints TEMPLATE_ID<TAB>TEMPLATE per line, no database."),
    "prune": ("ingest.cli:prune", "Delete old events and rollups in small chunks; drop templates nothing refers to."),
    "ship": ("server:ship", "Ship journald entries to a DevMesh server (`devmesh ship --help`)."),
    "load-inventory": ("retrieval.cli:load_inventory_cmd",
                      "Validate inventory.yaml, load it into FalkorDB and make it the one every server follows."),
    "infer-edges": ("retrieval.cli:infer_edges_cmd",
                   "Learn DEPENDS_ON edges from the window's logs into the graph (replaces inferred edges)."),
    "detect": ("graphs.cli:detect", "Run one detector cycle (the server runs one every DEVMESH_DETECT_INTERVAL_S)."),
    "investigate": ("graphs.cli:investigate_cmd",
                   "Investigate incident ID now (again), or open one with --at, and print the report."),
    "incidents": ("graphs.cli:incidents_cmd", "The latest incidents, newest first."),
    "chat": ("graphs.cli:chat_cmd", "Ask the running server; its work streams as it happens (route, tools, answer)."),
    "eval": ("evals.cli:eval_cmd", "Replay golden incidents and score detection, root cause, impact and evidence."),
    "bench": ("evals.cli:bench", "Benchmarks; each prints one JSON object last."),
    "demo": ("evals.cli:demo",
            "Replay a golden case into a running server: history now, then the fault, time-compressed."),
    "local-llm": ("evals.cli:local_llm_cmd",
                 "The pinned small model for tests and evals (Qwen2.5-Coder-0.5B on llama.cpp's server)."),
}


class LazyGroup(click.Group):
    """Commands from COMMANDS, imported when invoked; --help lists them from the table."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name][0].partition(":")
        return getattr(sys.modules[__name__] if module == "server" else importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, package_name="devmesh")
@click.pass_context
def main(ctx):
    """DevMesh: local-first incident investigator."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = AppSettings()


@click.command()
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


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
@click.pass_context
def ship(ctx):
    """Ship journald entries to a DevMesh server (`devmesh ship --help`)."""
    from shipper.cli import main as ship_main

    sys.exit(ship_main(ctx.args))


if __name__ == "__main__":
    main()
