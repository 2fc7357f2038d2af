"""Index a local checkout of a service at a version: walk it, hash each source file, parse
the files whose content the database does not hold yet (ingest/code_parse.py), record
which path holds which content at this version, and embed the symbols that have no vector
for the active model. A file whose content hash is already stored costs one lookup;
re-indexing an unchanged checkout writes nothing.

The version is what the service's log lines carry in meta (`version` or `commit`), so a
frame maps to the code that actually ran; without `--version` it is the checkout's git
HEAD, or `unversioned`.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from db import code_index as sql
from db.pool import Database
from ingest.code_parse import language_of, parse

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", "site-packages", "dist",
             "build", ".tox", ".mypy_cache", ".pytest_cache", "vendor"}
MAX_FILE_BYTES = 1_000_000
MAX_PATH = 512                 # code_files.path
MAX_EMBED_CHARS = 4000


@dataclass
class IndexResult:
    service: str
    version: str
    files: int = 0
    added: int = 0            # paths new at this version
    changed: int = 0          # paths whose content changed since the last index of this version
    removed: int = 0
    unchanged: int = 0
    parsed: int = 0           # contents the database did not hold (parsed and stored)
    symbols: int = 0          # symbols of the version after the run
    embedded: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def git_head(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def source_files(root: Path) -> dict[str, str]:
    """relative POSIX path -> sha256 of every source file we can parse, under `root` (the
    bytes are not kept: a big checkout is read once to hash, and again only where it changed)."""
    found: dict[str, str] = {}
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if language_of(name) is None or path.is_symlink():
                continue
            relative = path.relative_to(root).as_posix()
            try:
                if path.stat().st_size > MAX_FILE_BYTES or len(relative) > MAX_PATH:
                    continue
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
    return found


def index_checkout(db: Database, embedder, root: Path, service: str, version: str | None = None) -> IndexResult:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory: give the checkout's root")
    version = (version or git_head(root) or "unversioned")[:128]
    result = IndexResult(service, version)
    hashes = source_files(root)
    version_id = sql.ensure_version(db, service, version, str(root.resolve()))
    before = sql.files(db, version_id)
    result.files = len(hashes)
    result.added = sum(1 for p in hashes if p not in before)
    result.changed = sum(1 for p, h in hashes.items() if p in before and before[p] != h)
    result.unchanged = sum(1 for p, h in hashes.items() if before.get(p) == h)
    gone = [p for p in before if p not in hashes]
    result.removed = len(gone)
    todo = [p for p, h in hashes.items() if before.get(p) != h]
    if todo or gone:
        known = sql.known_blobs(db, sorted({hashes[p] for p in todo}))
        with db.transaction() as cur:
            for path in todo:
                digest = hashes[path]
                if digest not in known:
                    data = (root / path).read_bytes()
                    if hashlib.sha256(data).hexdigest() != digest:       # changed while we read: next run
                        continue
                    text = data.decode("utf-8", "replace")
                    sql.store_blob(cur, digest, language_of(path), text, parse(path, text))
                    known.add(digest)
                    result.parsed += 1
            sql.set_files(cur, version_id, [(p, hashes[p]) for p in todo if hashes[p] in known])
            sql.delete_files(cur, version_id, gone)
            sql.touch_version(cur, version_id)
    result.symbols = sql.count_symbols(db, version_id)
    if embedder is not None:
        result.embedded = embed_version(db, embedder, version_id)
    return result


def symbol_text(path: str, qualname: str, lines: list[str], start: int, end: int) -> str:
    """What gets embedded for a symbol: where it is, then its code."""
    body = "\n".join(lines[start - 1:end])
    return f"{path} {qualname}\n{body}"[:MAX_EMBED_CHARS]


def embed_version(db: Database, embedder, version_id: int, batch: int = 64) -> int:
    """Vectors for this version's symbols that have none for the embedder's model."""
    table = sql.vectors_table(db, embedder.name, embedder.dim)
    todo = sql.unembedded(db, table, version_id)
    qualnames = {s["id"]: s["qualname"] for s in sql.symbols(db, version_id)} if todo else {}
    texts: dict[str, list[str]] = {}
    done = 0
    for i in range(0, len(todo), batch):
        chunk = todo[i:i + batch]
        items = []
        for symbol_id, path, start, end, digest in chunk:
            if digest not in texts:
                texts[digest] = sql.blob_text(db, digest).splitlines()
            items.append((int(symbol_id), symbol_text(path, qualnames.get(int(symbol_id), ""), texts[digest],
                                                      int(start), int(end))))
        vectors = embedder.embed([t for _, t in items])
        sql.store_vectors(db, table, [(sid, vectors[j].astype("<f4").tobytes()) for j, (sid, _) in enumerate(items)])
        done += len(items)
    return done
