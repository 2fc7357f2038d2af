"""What an RCA reads, gathered in one place (I/O only; agents/rca.py judges it): the frames
mapped to the code index at the version that logged them, the symbols of the files on the
stack with their source, the symbols of other files that a failing line calls (by name),
and the symbols of that version most similar to the failure by embedding (the failing
type, message and the stack's code)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from db import code_index as sql
from db.pool import Database
from retrieval.code_map import map_frames

MAX_SIMILAR = 10
MAX_VERSION_SYMBOLS = 5000
_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True, kw_only=True)
class RcaView:
    service: str
    exception_type: str
    message: str
    frames: list[dict]                       # innermost first, each with `path` and `symbol` (or None)
    version: str | None = None               # the indexed version the frames were mapped at
    exact_version: bool = False              # the logged version itself was indexed
    symbols: list[dict] = field(default_factory=list)        # each with `source`: stack files + similar ones
    similarity: dict[int, float] = field(default_factory=dict)  # symbol id -> cosine similarity to the failure
    events: list[dict] = field(default_factory=list)         # {id, message}: the log lines around it
    exception_event_ids: list[int] = field(default_factory=list)
    cluster_id: int | None = None


def _with_source(db: Database, version_id: int, symbols: list[dict]) -> list[dict]:
    texts: dict[str, list[str]] = {}
    out = []
    for s in symbols:
        if s["path"] not in texts:
            found = sql.file_content(db, version_id, s["path"])
            texts[s["path"]] = found[0].splitlines() if found else []
        out.append(dict(s, source="\n".join(texts[s["path"]][s["start_line"] - 1:s["end_line"]])))
    return out


def _called_on_failing_lines(symbols: list[dict], frames: list[dict]) -> set[str]:
    """Names called on the frames' failing lines (`name(`), to bring in producers from other files."""
    names: set[str] = set()
    by_id = {s["id"]: s for s in symbols}
    for f in frames:
        sym = by_id.get(f["symbol"]["id"]) if f.get("symbol") else None
        if sym and isinstance(f.get("line"), int):
            lines = sym["source"].splitlines()
            offset = f["line"] - sym["start_line"]
            if 0 <= offset < len(lines):
                names.update(_CALLED.findall(lines[offset]))
    return names


def gather(db: Database, embedder, service: str, version: str | None, exception_type: str, message: str,
           frames: list[dict], events: list[dict] | None = None, exception_event_ids: list[int] | None = None,
           cluster_id: int | None = None) -> RcaView:
    """The view of one exception: `frames` innermost first ({file, function, line, ...})."""
    mapped = map_frames(db, service, version, frames)
    base = dict(service=service, exception_type=exception_type, message=message, events=events or [],
                exception_event_ids=exception_event_ids or [], cluster_id=cluster_id)
    if mapped["version"] is None:
        return RcaView(frames=mapped["frames"], **base)
    version_id = mapped["version_id"]
    stack_paths = sorted({f["path"] for f in mapped["frames"] if f["path"]})
    symbols = _with_source(db, version_id, sql.symbols(db, version_id, stack_paths))
    every = sql.symbols(db, version_id)[:MAX_VERSION_SYMBOLS]
    called = _called_on_failing_lines(symbols, mapped["frames"])
    held = {s["id"] for s in symbols}
    symbols += _with_source(db, version_id, [s for s in every if s["id"] not in held and s["kind"] != "class"
                                             and s["qualname"].rsplit(".", 1)[-1] in called][:MAX_SIMILAR])
    similarity: dict[int, float] = {}
    table = sql.vectors_table(db, embedder.name, embedder.dim, create=False) if embedder is not None else None
    if table:
        stack_code = "\n".join(s["source"] for f in mapped["frames"][:3] for s in symbols
                               if f["symbol"] and s["id"] == f["symbol"]["id"])
        query = embedder.embed([f"{exception_type}: {message}\n{stack_code}"[:4000]])[0].astype("<f4").tobytes()
        similarity = sql.similarity(db, table, query, [s["id"] for s in every])
        held = {s["id"] for s in symbols}
        extra = sorted((s for s in every if s["id"] not in held and s["kind"] != "class"),
                       key=lambda s: -similarity.get(s["id"], 0.0))[:MAX_SIMILAR]
        symbols += _with_source(db, version_id, extra)
    return RcaView(frames=mapped["frames"], version=mapped["version"], exact_version=mapped["exact"],
                   symbols=symbols, similarity=similarity, **base)
