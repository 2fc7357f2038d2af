"""The web UI under /ui: the built single-page app (ui/ -> ui/dist by esbuild, see
ui/build.mjs) served as files. Every /ui/... page path answers the same index.html (the
app routes on the URL); /ui/assets/... are the bundle's files with their content types.
The shell holds no data and no secret: the app reads the public API with the browser's
token (asked for when the API answers 401), so these paths are open like /health. A
missing build answers 503 with how to build it."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

DIST = Path(__file__).resolve().parent.parent / "ui" / "dist"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".map": "application/json",
         ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8"}
# the app's own script and styles only: nothing from another origin, no inline script
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

router = APIRouter(include_in_schema=False)


def is_ui(path: str) -> bool:
    return path == "/ui" or path.startswith("/ui/")


def _missing() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>DevMesh UI not built</title>"
        "<h1>The DevMesh web UI is not built</h1><p>The API works; only the UI's files are missing "
        f"(looked in <code>{DIST}</code>).</p><p>Build it with <code>make ui</code> (or <code>make run</code>, "
        "which builds it): <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>", status_code=503)


def _index():
    index = DIST / "index.html"
    if not index.is_file():
        return _missing()
    return FileResponse(index, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": POLICY})


@router.get("/ui")
async def ui_root():
    return _index()


@router.get("/ui/assets/{name:path}")
async def ui_asset(name: str):
    root = (DIST / "assets").resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        if not (DIST / "index.html").is_file():
            return _missing()
        raise HTTPException(404, detail={"code": "not_found", "message": f"no UI asset {name!r}"})
    return FileResponse(path, media_type=TYPES.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "no-cache"})


@router.get("/ui/{page:path}")
async def ui_page(page: str):
    return _index()
