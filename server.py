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
import logging
import sys
import time
from datetime import datetime

import click

from graphs.commands import COMMANDS        # the table of commands (light: data only)

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
            """token -> its scopes (graphs/auth.py)."""
            from graphs.auth import parse_tokens

            return parse_tokens(self.api_tokens)
    return ServerSettings


# each subsystem's settings class, imported (and read from the environment) on first use
_SETTINGS = {"server": _server_settings, "services": "db.settings:ServicesSettings",
             "db": "db.settings:DBSettings", "graph": "db.settings:GraphSettings",
             "ingest": "ingest.pipeline:IngestSettings", "embed": "ingest.embedders:EmbedSettings",
             "topology": "retrieval.topology:TopologySettings", "detect": "detectors.settings:DetectorSettings",
             "investigate": "graphs.worker:InvestigationSettings", "notify": "agents.notify:NotifySettings",
             "loki": "ingest.loki:LokiSettings", "retention": "ingest.retention:RetentionSettings",
             "learn": "ingest.merging:LearnSettings", "syslog": "ingest.syslog:SyslogSettings",
             "prometheus": "retrieval.prometheus:PrometheusSettings", "llm": "agents.llm:LLMSettings",
             "k8s": "retrieval.kube_api:KubeSettings"}


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


def create_app(settings: AppSettings | None = None):
    """The FastAPI app, wired to `settings`."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    from agents.llm import LLMMetrics, build_chat_model
    from agents.notify import Notifier
    from agents.tracing import SpanHandler
    from db import embeddings, stats
    from db import incidents as incident_sql
    from db.checkpoint import MariaDBSaver
    from db.graph import Graph
    from db.migrate import migrate as run_migrations
    from db.pool import Database, DatabaseUnavailable
    from db.tracing import build_provider as build_tracer_provider, tracer_of
    from db.version import UnsupportedServer, server_info
    from detectors.loop import detector_loop
    from graphs.alerts import router as alerts_router
    from graphs.analysis_http import router as analysis_router
    from graphs.chat import build as build_chat_graph
    from graphs.chat_http import router as chat_router
    from graphs.docs_http import install as install_docs
    from graphs.auth import SCOPES, required_scope
    from graphs.errors import error_body, install_error_handlers
    from graphs.http import router as incidents_router
    from graphs.status_http import router as status_router
    from graphs.ui_http import is_ui, router as ui_router
    from graphs.investigate import Context as InvestigationContext
    from graphs.worker import InvestigationPool
    from ingest.background import Periodic
    from ingest.cluster_embedding import embed_clusters
    from ingest.body_limit import BodyLimit, path_token
    from ingest.embedders import build_embedder
    from ingest.embedding import EmbeddingWorker
    from ingest.http import router as ingest_router
    from ingest.journal_upload import router as journal_router
    from ingest.merging import MergeMap, TemplateLearner
    from ingest.syslog import start as start_syslog
    from ingest.pipeline import Ingestor
    from ingest.retention import prune as prune_old
    from ingest.telemetry import Metrics
    from retrieval.graph_http import router as graph_router
    from retrieval.http import router as search_router
    from retrieval.loki_read import router as loki_read_router
    from retrieval.rates_http import router as rates_router
    from retrieval.runbook_templates import FOLLOW_INTERVAL_S, TemplateFollower
    from retrieval.runbooks_http import router as runbooks_router
    from retrieval.code_http import router as code_router
    from retrieval.clusters_http import router as clusters_router
    from graphs.rca_http import router as rca_router
    from graphs.memory_http import router as memory_router
    from retrieval.enrich import refresh_now
    from retrieval.prometheus import from_settings as prometheus_from
    from retrieval.kubernetes import KubeState
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
        app.state.tracer_provider = build_tracer_provider(version=__version__)   # None unless OTEL_EXPORTER_OTLP_*
        app.state.tracer = tracer_of(app.state.tracer_provider)
        app.state.spans = SpanHandler(app.state.tracer) if app.state.tracer_provider is not None else None
        app.state.llm = build_chat_model(settings.llm, [LLMMetrics(metrics, settings.llm.model)]
                                         + ([app.state.spans] if app.state.spans else []))
        app.state.chat_graph = build_chat_graph(MariaDBSaver(app.state.db))
        app.state.ingestor = Ingestor(app.state.db, settings.ingest, merges=MergeMap(settings.learn.refresh_s),
                                      hold_traces=True)      # a trace may go on in the next request
        app.state.ingestor.tracer = app.state.tracer
        app.state.embed_worker = EmbeddingWorker(app.state.db, app.state.embedder, settings.embed)
        app.state.started = time.time()
        app.state.embed_worker.start()
        app.state.runbook_follower = TemplateFollower(app.state.db, app.state.graph)   # runbooks quoting them
        app.state.ingestor.on_new_templates = lambda ids: (app.state.embed_worker.enqueue(ids),
                                                           app.state.runbook_follower.enqueue(ids))
        app.state.runbook_links = Periodic("runbook-template-links", FOLLOW_INTERVAL_S, app.state.runbook_follower.run)
        app.state.runbook_links.start()
        app.state.topology = TopologyState(settings.topology.inventory, app.state.graph,
                                           lambda services: setattr(app.state.ingestor, "services", services),
                                           app.state.db)
        await run_in_threadpool(app.state.topology.start)
        app.state.inventory_watch = Periodic("inventory-follow", settings.topology.inventory_poll_s,
                                             app.state.topology.follow)
        app.state.inventory_watch.start()
        app.state.kube = KubeState(settings.k8s, app.state.graph, app.state.topology)   # off without a cluster
        if app.state.kube.enabled:
            await run_in_threadpool(app.state.kube.refresh)
        app.state.kube_watch = Periodic("kubernetes-topology", settings.k8s.refresh_s if app.state.kube.enabled else 0,
                                        app.state.kube.refresh)
        app.state.kube_watch.start()
        app.state.kube.start()                  # the watch on pods between the full reads
        app.state.enrichment = Periodic("graph-enrichment", settings.topology.infer_interval_s,
                                        lambda: refresh_now(app.state.db, app.state.graph, app.state.topology.inventory,
                                                            settings.topology.infer_window_s))
        app.state.enrichment.start()
        app.state.notifier = Notifier(settings.notify)
        app.state.investigations = InvestigationPool(
            InvestigationContext(app.state.db, app.state.graph, app.state.notifier,
                                 settings.investigate.baseline_minutes, lambda: app.state.topology.inventory,
                                 prometheus_from(settings.prometheus), settings.prometheus.max_services,
                                 app.state.llm, app.state.db_ro, settings.llm.structured, settings.llm.max_rounds,
                                 tuple(settings.llm.mask_patterns), embedder=app.state.embedder,
                                 tracer=app.state.tracer, spans=app.state.spans),
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
            "devmesh_incidents": ("Incidents by investigation status and lifecycle state", lambda: {
                (("status", s), ("state", st)): n for (s, st), n in incident_sql.by_status(app.state.db_ro).items()}),
            "devmesh_feedback_by_detector": ("Verdicts (each judged incident's latest) per detector that fired in it",
                                             lambda: _feedback_labels(app.state.db_ro, "by_detector", "detector")),
            "devmesh_feedback_by_rule": ("Verdicts (each judged incident's latest) per ranking rule that put its "
                                         "root cause first", lambda: _feedback_labels(app.state.db_ro, "by_rule",
                                                                                      "rule")),
            "devmesh_unmapped_records": ("Records whose service is not in the inventory",
                                         lambda: (app.state.ingestor.services.unmapped_summary()["records"]
                                                  if app.state.ingestor.services else 0)),
        })
        app.state.detectors.start()
        app.state.retention = Periodic("retention", settings.retention.interval_s,
                                       lambda: prune_old(app.state.db, settings.retention))
        app.state.retention.start()
        app.state.learner = Periodic("template-learning", settings.learn.interval_s,
                                     TemplateLearner(app.state.db, app.state.ingestor.merges).run)
        app.state.learner.start()
        app.state.trace_flush = Periodic("held-traces", 1.0, app.state.ingestor.flush_pending)   # ingest/multiline.py
        app.state.trace_flush.start()
        app.state.cluster_vectors = Periodic("cluster-embedding", settings.embed.sweep_interval_s,   # semantic fingerprints
                                             lambda: embed_clusters(app.state.db, app.state.embedder))
        app.state.cluster_vectors.start()
        app.state.syslog = await start_syslog(settings.syslog, app.state.ingestor, metrics)
        try:
            yield
        finally:
            if app.state.syslog is not None:
                await app.state.syslog.stop()
            app.state.learner.stop()
            app.state.trace_flush.stop()
            app.state.cluster_vectors.stop()
            try:
                app.state.ingestor.flush_pending(force=True)
            except Exception as exc:  # noqa: BLE001 - shutting down: say what stayed unwritten
                log.warning("held stack traces not written at shutdown: %s", exc)
            app.state.retention.stop()
            app.state.detectors.stop()
            await run_in_threadpool(_give_up_detector_lease, app.state.db)   # another server leads at once
            app.state.investigations.stop()
            app.state.enrichment.stop()
            app.state.inventory_watch.stop()
            app.state.kube_watch.stop()
            app.state.kube.close()
            app.state.embed_worker.stop()
            app.state.runbook_links.stop()
            app.state.db.close()
            app.state.db_ro.close()
            app.state.health_pool.shutdown(wait=False, cancel_futures=True)
            app.state.graph.close()
            if app.state.tracer_provider is not None:
                app.state.tracer_provider.shutdown()      # flushes the spans still queued

    app = FastAPI(title="DevMesh", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
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
        if tokens and request.url.path not in ("/health",) and not is_ui(request.url.path):   # /ui: no data
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            in_path = path_token(request.url.path)       # systemd-journal-upload: the token in its URL
            if in_path is not None and not header:
                scheme, token = "bearer", in_path
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

    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.server.max_body_bytes)
    app.include_router(ingest_router)
    app.include_router(journal_router)
    app.include_router(search_router)
    app.include_router(loki_read_router)
    app.include_router(graph_router)
    app.include_router(incidents_router)
    app.include_router(alerts_router)
    app.include_router(chat_router)
    app.include_router(analysis_router)
    app.include_router(status_router)
    app.include_router(rates_router)
    app.include_router(runbooks_router)
    app.include_router(code_router)
    app.include_router(clusters_router)
    app.include_router(rca_router)
    app.include_router(memory_router)
    app.include_router(ui_router)
    install_docs(app)                    # /docs and /redoc with their assets from an installed package

    return app


def _feedback_labels(db, group: str, label: str) -> dict:
    from retrieval.similar import feedback_summary

    return {((label, name), ("verdict", verdict)): n for name, counts in feedback_summary(db)[group].items()
            for verdict, n in counts.items()}


def _give_up_detector_lease(db) -> None:
    from db import leases
    from detectors.cycle import LOCK

    try:
        with db.connection() as conn:
            leases.release_quietly(conn, LOCK)
    except Exception as exc:  # noqa: BLE001 - shutting down: the lease runs out by itself
        log.warning("detector lease not released at shutdown: %s", exc)


def _detect(state, settings: AppSettings, now: datetime):
    from detectors.cycle import run_cycle

    services = state.ingestor.services
    with state.metrics.cycle.time():
        try:                                  # the loop keeps the lease: this server leads while it renews
            result = run_cycle(state.db, state.graph, settings.detect, now, services.names() if services else None,
                               state.tracer, keep_lease=True)
        except Exception:
            state.metrics.cycles.labels("failed").inc()
            raise
    state.metrics.cycles.labels("ran" if result.ran else "skipped").inc()
    return result


# ----------------------------------------------------------------------------- CLI

class LazyGroup(click.Group):
    """Commands from COMMANDS, imported when invoked; --help lists them from the table."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name][0].partition(":")
        return getattr(sys.modules[__name__] if module == "server" else importlib.import_module(module), attr)

    def invoke(self, ctx):
        from graphs.terminal import one_line

        with one_line():                 # a failure the user can fix: one line and exit 1, no traceback
            return super().invoke(ctx)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, package_name="devmesh")
@click.pass_context
def main(ctx):
    """DevMesh: local-first incident investigator."""
    from graphs.terminal import setup_logging

    setup_logging()
    ctx.obj = AppSettings()


@click.command()
@click.option("--host", default=None, help="bind address (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default 8000)")
def serve(host, port):
    """Serve the HTTP API."""
    import uvicorn

    from graphs.auth import is_loopback

    settings = AppSettings()
    host = host or settings.server.host
    if not is_loopback(host) and not settings.server.tokens:
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
