"""How the `devmesh` CLI meets the terminal: the logging setup, and one line (never a stack
trace) for a failure the user can fix, with a non-zero exit.

`one_line()` wraps every command once (server.LazyGroup.invoke). Known failures (a dead
MariaDB or FalkorDB, no server at --url, a missing file or case, a bad setting) become a
`click.ClickException` that names the problem and the fix; anything else is a bug, said in
one line too, with DEVMESH_DEBUG=1 to see its traceback. Light: the exception classes are
looked up only in modules already imported (an exception from a module means it is loaded).
"""
from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

import click

SERVICES_HINT = "start the local services with `devmesh services up` (or `make services`)"


class TraceIds(logging.Filter):
    """Puts the current span's ids on each record (db/tracing.py): `trace_id`, `span_id` (hex,
    "" outside a span) and `trace` (" trace_id=... span_id=..." or "") for `%(trace)s`.
    Light: without OpenTelemetry imported there can be no span, and nothing is imported."""

    def filter(self, record: logging.LogRecord) -> bool:
        api = sys.modules.get("opentelemetry.trace")
        ctx = api.get_current_span().get_span_context() if api is not None else None
        if ctx is not None and ctx.is_valid:
            record.trace_id, record.span_id = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
            record.trace = f" trace_id={record.trace_id} span_id={record.span_id}"
        else:
            record.trace_id = record.span_id = record.trace = ""
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(trace)s"


def setup_logging() -> None:
    """INFO from our modules on stderr, one line each (with the trace and span ids inside a
    span); chatty libraries at WARNING. The server keeps it: uvicorn's own config leaves the
    root logger alone."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TraceIds) for f in handler.filters):
            handler.addFilter(TraceIds())
    for noisy in ("httpx", "httpcore", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _database(exc) -> str:
    return f"MariaDB is unavailable: {exc} ({SERVICES_HINT}, or fix DEVMESH_DB_URL)"


def _mariadb(exc) -> str:
    return (f"MariaDB refused the request ({exc}); check DEVMESH_DB_URL's user, password and database, "
            "and run `devmesh migrate`")


def _graph(exc) -> str:
    return f"FalkorDB is unavailable ({exc}); {SERVICES_HINT}, or fix DEVMESH_GRAPH_URL"


def _http(exc) -> str:
    url = getattr(getattr(exc, "request", None), "url", None) if _has_request(exc) else None
    where = f" to {url}" if url else ""
    return (f"an HTTP request{where} failed ({type(exc).__name__}: {exc}); is the server running? "
            "`make run`, or point --url / DEVMESH_URL at it")


def _has_request(exc) -> bool:
    try:
        return exc.request is not None
    except RuntimeError:            # httpx raises when an error carries no request
        return False


def _file(exc: OSError) -> str:
    what = exc.strerror or type(exc).__name__
    return f"{what}: {exc.filename}; check the path" if exc.filename else f"{what} ({exc})"


def _case(exc) -> str:
    return f"{exc}; the cases are the folders under evals/cases (or pass --cases DIR)"


def _settings(exc) -> str:
    """A pydantic error; for a settings class, the environment variable it read."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = ".".join(str(p) for p in first.get("loc", ()))
    prefix = next((c.model_config.get("env_prefix") for c in _subclasses(sys.modules.get("pydantic_settings"))
                   if c.__name__ == exc.title), None)
    name = f"{prefix}{loc}".upper() if prefix is not None and loc else f"{exc.title}.{loc}"
    return f"invalid value for {name}: {first.get('msg', exc)}; fix it (or unset it for the default)"


def _subclasses(module) -> list[type]:
    base = getattr(module, "BaseSettings", None)
    out, todo = [], [base] if base else []
    while todo:
        for sub in todo.pop().__subclasses__():
            out.append(sub)
            todo.append(sub)
    return out


def _plain(exc) -> str:
    return f"{exc} (DEVMESH_DEBUG=1 shows where)"


def _inventory(exc) -> str:
    return f"{exc}; fix inventory.yaml (or point DEVMESH_INVENTORY at another file)"


# (module, class) -> what to say; the first that matches wins (most specific first)
KNOWN = [
    (("db.pool", "DatabaseUnavailable"), _database),
    (("db.graph", "GraphUnavailable"), _graph),
    (("redis.exceptions", "ConnectionError"), _graph),
    (("mariadb", "Error"), _mariadb),
    (("httpx", "HTTPError"), _http),
    (("evals.cases", "CaseError"), _case),
    (("ingest.inventory", "InventoryError"), _inventory),
    (("pydantic_core", "ValidationError"), _settings),
    (("builtins", "RecursionError"), None),
    (("builtins", "NotImplementedError"), None),
    (("builtins", "FileNotFoundError"), _file),
    (("builtins", "PermissionError"), _file),
    (("builtins", "IsADirectoryError"), _file),
    (("builtins", "NotADirectoryError"), _file),
    (("builtins", "RuntimeError"), _plain),        # ours carry a message meant for the user
    (("builtins", "ValueError"), _plain),
]


def describe(exc: BaseException) -> str:
    """The one line for `exc`."""
    for (module, name), say in KNOWN:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            if say is None:
                break
            return say(exc)
    return (f"internal error: {type(exc).__name__}: {exc} (a bug; rerun with DEVMESH_DEBUG=1 for the "
            "traceback and report it)")


@contextmanager
def one_line():
    """Run a command; a failure leaves as `Error: <one line>` on stderr and exit status 1."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except SystemExit as exc:                  # `raise SystemExit("message")`: the same one line
        if isinstance(exc.code, str):
            raise click.ClickException(exc.code) from None
        raise
    except Exception as exc:
        if os.environ.get("DEVMESH_DEBUG") == "1":
            raise
        raise click.ClickException(describe(exc)) from None
