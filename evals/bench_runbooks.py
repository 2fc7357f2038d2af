"""`devmesh bench runbooks`: ingest and retrieval speed of a runbook directory.

DIR (default: the repository's runbooks/) is copied COPIES times into a scratch directory
(`x.md` -> `x-<k>.md`; a front-matter `id:` gets `-<k>`), then ingested into a scratch
database and graph with the configured embedder, beside TEMPLATES stored templates: the
lines the runbooks quote (so they link) and synthetic ones (so the template scan reads a
table of that size). Measured: the first ingest (sections per second, embedding included),
re-ingesting the unchanged directory (must write nothing), one changed file; then QUERIES
retrievals, each an incident made of one template a runbook quotes (its id and text, as an
investigation passes its cited templates): p50 / p95, the share of it that embedding the
query's two texts takes, and how often the first section comes from that runbook (any copy)
and is the section that quotes it; then the server's follower checks FOLLOWED templates
stored after the ingest against every runbook (follow_s). The embedder's model is loaded
before the clock starts.
"""
from __future__ import annotations

import hashlib
import random
import re
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from db import scratch
from db import templates as template_sql
from db.graph import Graph
from db.pool import Database
from db.settings import DBUrl
from evals.bench_search import _pct
from ingest.embedders import Embedder
from ingest.templates import template_for
from retrieval.runbook_docs import FORMATS, read_dir
from retrieval.runbook_templates import TemplateFollower, quotes, template_links
from retrieval.runbooks import RunbookQuery, find_sections, ingest_dir

REPO_RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
NOW = datetime(2026, 1, 20, 12, 0)
FOLLOWED = 1000                # new templates the follower checks after the ingest
_ID_LINE = re.compile(r"^(id:\s*)(\S+)", re.M)


def copy_tree(source: Path, target: Path, copies: int) -> Path:
    """`copies` copies of every runbook file of `source`, each with its own id."""
    books = target / "runbooks"
    books.mkdir(parents=True)
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS):
        text = path.read_text(encoding="utf-8", errors="replace")
        for k in range(copies):
            body = _ID_LINE.sub(lambda m, k=k: f"{m.group(1)}{m.group(2)}-{k}", text, count=1) \
                if text.startswith("---") else text
            (books / f"{path.stem}-{k}{path.suffix}").write_text(body, encoding="utf-8")
    return books


def _seed_templates(db: Database, books: Path, total: int) -> int:
    """The lines the runbooks quote, then synthetic templates up to `total`."""
    docs, _ = read_dir(books)
    quoted = {template_for(q) for d in docs for s in d.sections for q in quotes(s.body)[0]}
    rows = [(t.id, t.canon_hash, t.template, "error", NOW - timedelta(hours=1), NOW, t.canon_version) for t in quoted]
    rows += _synthetic(0, max(0, total - len(rows)))
    for start in range(0, len(rows), 2000):
        with db.transaction() as cur:
            template_sql.insert_new(cur, rows[start:start + 2000])
    return len(rows)


def _synthetic(first: int, n: int) -> list[tuple]:
    out = []
    for i in range(first, first + n):
        digest = hashlib.blake2b(f"bench-runbooks-{i}".encode(), digest_size=16).digest()
        out.append((int.from_bytes(digest[:8], "big") >> 11, digest,
                    f"worker <ID> handled job {i} of queue <STR> in <DURATION>", "info", NOW - timedelta(hours=2), NOW, 3))
    return out


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(url: DBUrl, graph_url: str, embedder: Embedder, directory: Path | None = None, copies: int = 25,
        templates: int = 50_000, queries: int = 100) -> dict:
    rng = random.Random(21)
    source = directory or REPO_RUNBOOKS
    work = Path(tempfile.mkdtemp(prefix="devmesh-bench-runbooks-"))
    scratch_url = scratch.create_database(url, "benchrunbooks")
    db = Database(scratch_url)
    graph = Graph(graph_url, f"devmesh_bench_{scratch_url.database}")
    try:
        books = copy_tree(source, work, copies)
        stored, seed_s = _timed(lambda: _seed_templates(db, books, templates))
        _, load_s = _timed(lambda: embedder.embed(["load the model"]))       # not part of the ingest
        first, first_s = _timed(lambda: ingest_dir(db, graph, embedder, books))
        again, again_s = _timed(lambda: ingest_dir(db, graph, embedder, books))
        changed_file = sorted(p for p in books.iterdir())[0]
        changed_file.write_text(changed_file.read_text(encoding="utf-8") + "\n\nOne more line.\n", encoding="utf-8")
        one, one_s = _timed(lambda: ingest_dir(db, graph, embedder, books))
        docs, _ = read_dir(books)
        origin = {d.id: d.path.rsplit("/", 1)[-1].rsplit("-", 1)[0] for d in docs}
        quoted = [link for link in template_links(db, docs) if link["sections"]]
        texts = {t: row["template"] for t, row in template_sql.get_many(
            db, sorted({link["template"] for link in quoted})).items()}
        latencies, embedding, book_hits, section_hits = [], [], 0, 0
        asked = [rng.choice(quoted) for _ in range(queries)] if quoted else []
        for link in asked:
            text = texts.get(link["template"], "")
            query = RunbookQuery(text, [], [link["template"]], [text])
            hits, took = _timed(lambda query=query: find_sections(db, graph, embedder, query))
            latencies.append(took * 1e3)
            embedding.append(_timed(lambda text=text: embedder.embed([text, text]))[1] * 1e3)   # its share
            if hits and origin.get(hits[0]["runbook_id"]) == origin[link["runbook"]]:
                book_hits += 1
                section_hits += hits[0]["section"] in link["sections"]
        fresh = _synthetic(templates, FOLLOWED)                 # templates first stored after the ingest
        with db.transaction() as cur:
            template_sql.insert_new(cur, fresh)
        follower = TemplateFollower(db, graph)
        follower.enqueue([row[0] for row in fresh])
        followed, follow_s = _timed(follower.run)
    finally:
        db.close()
        graph.drop()
        graph.close()
        scratch.drop_database(scratch_url)
        shutil.rmtree(work, ignore_errors=True)
    sections = first.sections_written
    return {"directory": str(source), "copies": copies, "runbooks": len(first.added), "sections": sections,
            "templates": stored, "embedder": embedder.name, "embedder_load_s": round(load_s, 2),
            "seed_templates_s": round(seed_s, 2),
            "ingest_s": round(first_s, 2), "sections_per_s": round(sections / first_s, 1) if first_s else None,
            "template_links": first.templates_linked, "service_links": first.linked, "errors": len(first.errors),
            "reingest_unchanged_s": round(again_s, 2),
            "reingest_unchanged_written": again.sections_written + again.embedded + len(again.changed),
            "one_changed_s": round(one_s, 2), "one_changed_sections": one.sections_written,
            "queries": len(latencies), "find_p50_ms": _pct(latencies, 50) if latencies else None,
            "find_p95_ms": _pct(latencies, 95) if latencies else None,
            "query_embedding_p50_ms": _pct(embedding, 50) if embedding else None,
            "follow_new_templates": FOLLOWED, "follow_s": round(follow_s, 3), "follow_links": followed,
            "runbook_at_1": round(book_hits / len(latencies), 3) if latencies else None,
            "section_at_1": round(section_hits / len(latencies), 3) if latencies else None}
