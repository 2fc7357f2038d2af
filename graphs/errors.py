"""Errors are always `{"error": {"code", "message", "detail"}}`, never a stack trace: the
exception handlers every route shares (a dead dependency is a 503 with Retry-After)."""
from __future__ import annotations

import logging

import mariadb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.graph import GraphUnavailable
from db.pool import DatabaseUnavailable

log = logging.getLogger("devmesh")


def error_body(code: str, message: str, detail=None) -> dict:
    return {"error": {"code": code, "message": message, "detail": detail}}


def install_error_handlers(app: FastAPI) -> None:
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
