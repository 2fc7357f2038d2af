"""Frames to code: which indexed version of a service logged an event (its meta `version`
or `commit`), which indexed file a frame's path is (the longest path suffix match: a frame
says `/srv/app/orders/api.py`, the index holds `orders/api.py`), the innermost symbol
around the frame's line at that version, and a numbered snippet served from what was
indexed (never from the disk)."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

from db import code_index as sql
from db.pool import Database


@dataclass(frozen=True)
class Resolved:
    version_id: int
    version: str
    exact: bool               # the logged version was indexed (False: the newest stands in)


def resolve_version(db: Database, service: str, wanted: str | None) -> Resolved | None:
    """The indexed version matching `wanted` (exactly, or as a commit prefix either way),
    else the newest indexed one for the service, marked inexact; None when none is."""
    if wanted:
        row = sql.version_row(db, service, wanted) or (sql.version_by_prefix(db, service, wanted)
                                                      if len(wanted) >= 7 else None)
        if row:
            return Resolved(row[0], row[1], True)
    newest = sql.versions(db, service)
    return Resolved(newest[0]["id"], newest[0]["version"], False) if newest else None


def match_path(frame_file: str, indexed: list[str]) -> str | None:
    """The indexed path a frame's file is: equal, or the longest one it ends with at a `/`."""
    name = (frame_file or "").replace("\\", "/")
    best = None
    for path in indexed:
        if name == path or name.endswith("/" + path):
            if best is None or len(path) > len(best):
                best = path
    return best


def symbol_at(symbols: list[dict], path: str, line: int) -> dict | None:
    """The innermost symbol of `path` whose line range holds `line`."""
    around = [s for s in symbols if s["path"] == path and s["start_line"] <= line <= s["end_line"]]
    return min(around, key=lambda s: (s["end_line"] - s["start_line"], -s["start_line"])) if around else None


def map_frames(db: Database, service: str, version: str | None, frames: list[dict]) -> dict:
    """Each frame (file, function, line) with the indexed path and symbol at the resolved
    version: {version, exact, frames: [{..., path, symbol}]}; frames stay as given when no
    version of the service is indexed."""
    resolved = resolve_version(db, service, version)
    if resolved is None:
        return {"version": None, "exact": False, "frames": [dict(f, path=None, symbol=None) for f in frames]}
    indexed = list(sql.files(db, resolved.version_id))
    paths = {f.get("file"): match_path(f.get("file") or "", indexed) for f in frames}
    wanted = sorted({p for p in paths.values() if p})
    symbols = sql.symbols(db, resolved.version_id, wanted)
    out = []
    for f in frames:
        path = paths.get(f.get("file"))
        line = f.get("line")
        symbol = symbol_at(symbols, path, int(line)) if path and isinstance(line, int) else None
        out.append(dict(f, path=path, symbol=symbol))
    return {"version": resolved.version, "version_id": resolved.version_id, "exact": resolved.exact, "frames": out}


class NotIndexed(LookupError):
    """The path (or service, or version) is not in the code index."""


def clean_path(path: str) -> str:
    """A relative POSIX path inside a checkout; `..`, absolute paths and NULs are refused."""
    if not path or "\x00" in path or "\\" in path:
        raise ValueError("the path must be a relative POSIX path of an indexed file")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("..", ".") for p in parts) or posixpath.normpath(path) != path:
        raise ValueError(f"{path!r} is not a plain relative path inside the checkout ('..', '.', '//' and "
                         "leading '/' are refused)")
    return path


def snippet(db: Database, service: str, path: str, line: int | None, version: str | None,
            context: int = 8) -> dict:
    """Numbered lines around `line` of an indexed file at a version (the newest without one)."""
    path = clean_path(path)
    resolved = resolve_version(db, service, version)
    if resolved is None:
        raise NotIndexed(f"no code of service {service!r} is indexed: run `devmesh code index PATH --service "
                         f"{service}`")
    if version and not resolved.exact:
        raise NotIndexed(f"version {version!r} of {service!r} is not indexed; indexed: "
                         + ", ".join(v["version"] for v in sql.versions(db, service)[:10]))
    found = sql.file_content(db, resolved.version_id, path)
    if found is None:
        raise NotIndexed(f"{path!r} is not an indexed file of {service!r} at version {resolved.version!r}")
    content, language = found
    lines = content.splitlines()
    center = min(max(line or 1, 1), max(len(lines), 1))
    start, end = max(1, center - context), min(len(lines), center + context)
    symbols = sql.symbols(db, resolved.version_id, [path])
    return {"service": service, "version": resolved.version, "path": path, "language": language,
            "line": line, "start_line": start, "end_line": end, "total_lines": len(lines),
            "lines": [{"n": n, "text": lines[n - 1]} for n in range(start, end + 1)],
            "symbol": symbol_at(symbols, path, center) if line else None}
