"""HTTP for the code index: GET /code/{service}/{path}?line=N&version=V, a numbered snippet
of an indexed file, served from what `devmesh code index` stored (never from the disk);
`..`, absolute paths and paths that were not indexed are refused with a 4xx."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from retrieval.code_map import NotIndexed, snippet
from retrieval.http import fail

router = APIRouter(tags=["code"])


@router.get("/code/{service}/{path:path}")
async def get_code(request: Request, service: str = Path(max_length=128), path: str = Path(max_length=512),
                   line: int | None = Query(None, ge=1, le=10_000_000), version: str | None = Query(None, max_length=128),
                   context: int = Query(8, ge=0, le=200)):
    """Lines around `line` of an indexed file of `service` at `version` (the newest indexed without one)."""
    try:
        return await run_in_threadpool(snippet, request.app.state.db_ro, service, path, line, version, context)
    except ValueError as exc:
        raise fail(400, "invalid_path", str(exc)) from None
    except NotIndexed as exc:
        raise fail(404, "not_indexed", str(exc)) from None
