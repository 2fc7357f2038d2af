"""DevMesh server: FastAPI assembly (settings, routers, auth, errors) and the `devmesh` CLI.

Everything stateful (the MariaDB pools, the embedder, the embedding worker) is built once,
in the lifespan (graphs/lifespan.py), and handed to the routers through `app.state`;
nothing below opens a connection at import time.

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
    """The FastAPI app, wired to `settings` (what it builds and runs beside the routes is
    graphs/lifespan.py's)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from graphs.alerts import router as alerts_router
    from graphs.analysis_http import router as analysis_router
    from graphs.chat_http import router as chat_router
    from graphs.docs_http import install as install_docs
    from graphs.auth import SCOPES, required_scope
    from graphs.errors import error_body, install_error_handlers
    from graphs.http import router as incidents_router
    from graphs.lifespan import build_lifespan
    from graphs.status_http import router as status_router
    from graphs.ui_http import is_ui, router as ui_router
    from ingest.body_limit import BodyLimit, path_token
    from ingest.http import router as ingest_router
    from ingest.journal_upload import router as journal_router
    from ingest.telemetry import Metrics
    from retrieval.graph_http import router as graph_router
    from retrieval.http import router as search_router
    from retrieval.loki_read import router as loki_read_router
    from retrieval.rates_http import router as rates_router
    from retrieval.runbooks_http import router as runbooks_router
    from retrieval.code_http import router as code_router
    from retrieval.clusters_http import router as clusters_router
    from graphs.rca_http import router as rca_router
    from graphs.memory_http import router as memory_router

    settings = settings or AppSettings()
    metrics = Metrics()
    app = FastAPI(title="DevMesh", version=__version__, lifespan=build_lifespan(settings, metrics, __version__),
                  docs_url=None, redoc_url=None)
    tokens = settings.server.tokens

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
