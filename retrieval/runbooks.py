"""Runbook documents: ingest a directory (versioned by content hash) and find the sections an
incident or a question needs (vector + graph + the incident's templates and detectors).

Ingest: parse every file (retrieval/runbook_docs.py) -> per document, skipped when its hash
is the stored one; else the document and the sections whose hash changed are written (their
version moves on), sections no longer in it and files no longer in the directory are marked
gone -> sections without a vector for this model (or with one from older text) are embedded
-> the graph links each document to the services its front matter names and its text
mentions (inventory names and aliases, whole words), and to the log templates it names
(retrieval/runbook_templates.py: front matter ids and fragments, ids and quoted lines in
its text; relinked on every ingest, so templates learned since are found). Re-ingesting an
unchanged directory writes nothing. "No longer in the directory" is judged among the documents this directory
(by its name: paths are stored as DIRNAME/FILE) ingested before; other directories' stay.

Find: score = .40 semantic (the best cosine between the section and the query's texts: the
question or title, and each template's text) + .25 service (its front matter or the
inventory names one of the services) + .05 mention (its text names one) + .15 template (its
front matter names one of the incident's templates, by id or text fragment; or the graph
links the incident's template to it: whole for the sections that name it, half for the
runbook's others) + .10 detector.
A link to the first service (the root cause) counts whole, to the others half. A section
needs a link (service, mention, template, detector) or a similarity of MIN_SIMILARITY to be returned.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from datetime import datetime, timezone
from pathlib import Path

from db import graph_runbooks
from db import memory_vectors as vectors
from db import runbooks as runbook_sql
from db.graph import Graph, GraphUnavailable
from db.pool import Database
from ingest.embedders import Embedder, embedding_text
from ingest.inventory import Inventory
from retrieval.runbook_docs import RunbookDoc, RunbookError, read_dir, steps
from retrieval.runbook_templates import template_links

log = logging.getLogger(__name__)
W_SEMANTIC, W_SERVICE, W_MENTION, W_TEMPLATE, W_DETECTOR = .40, .25, .05, .15, .10
SECONDARY = .5                 # a link to a service other than the first (the root cause) counts half
MIN_SIMILARITY = .35
MAX_QUERY_TEXTS = 8
PER_RUNBOOK = 2
KNN = 30
EMBED_CHARS = 2000


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    sections_written: int = 0
    sections_gone: int = 0
    embedded: int = 0
    linked: int = 0
    templates_linked: int = 0
    graph: str = "ok"
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def mentions(text: str, inventory: Inventory | None) -> list[str]:
    """Inventory services the text names (name or alias, as a whole word, 3+ characters)."""
    if inventory is None:
        return []
    found = []
    for name, service in inventory.services.items():
        for word in [name, *service.aliases]:
            if len(word) >= 3 and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.I):
                found.append(name)
                break
    return found


def _embed_text(doc_title: str, heading: str, body: str) -> str:
    return f"{doc_title}. {heading}.\n{body}"[:EMBED_CHARS]


def ingest_dir(db: Database, graph: Graph | None, embedder: Embedder, directory: Path,
               inventory: Inventory | None = None, now: datetime | None = None) -> IngestReport:
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    docs, errors = read_dir(directory)
    report = IngestReport(errors=[str(e) for e in errors])
    rejected_paths = {e.path for e in errors}
    stored_docs, stored_sections = runbook_sql.stored(db)
    stored_paths = {d["id"]: d["path"] for d in runbook_sql.documents(db, include_gone=True)}
    with db.transaction() as cur:
        for doc in docs:
            previous = stored_docs.get(doc.id)
            if previous and previous[0] == doc.content_hash and not previous[1]:
                report.unchanged.append(doc.id)
                continue
            (report.changed if previous else report.added).append(doc.id)
            runbook_sql.upsert_document(cur, doc.row())
            keep = set()
            for section in doc.sections:
                keep.add(section.section)
                old = stored_sections.get((doc.id, section.section))
                if old and old[0] == section.content_hash and not old[1]:
                    runbook_sql.move_section(cur, doc.id, section.section, section.position)
                else:
                    runbook_sql.upsert_section(cur, doc.id, section.row())
                    report.sections_written += 1
            dropped = [k for k, (_, gone) in stored_sections.items() if k[0] == doc.id and not gone
                       and k[1] not in keep]
            runbook_sql.mark_sections_gone(cur, dropped, now)
            report.sections_gone += len(dropped)
        present = {d.id for d in docs}
        scope = f"{directory.name}/"           # what this directory ingested before (paths are DIRNAME/...)
        for runbook_id, (_, gone) in stored_docs.items():
            path = stored_paths.get(runbook_id, "")
            if gone or runbook_id in present or not path.startswith(scope) or path in rejected_paths:
                continue                       # another directory's, or rejected this time: its last good version stays
            runbook_sql.mark_document_gone(cur, runbook_id, now)
            report.gone.append(runbook_id)
            report.sections_gone += sum(1 for k, (_, g) in stored_sections.items() if k[0] == runbook_id and not g)
    report.embedded = _embed_missing(db, embedder, docs)
    if graph is not None:
        links = [{"runbook": d.id, "service": s, "mentioned": False} for d in docs for s in d.services]
        links += [{"runbook": d.id, "service": s, "mentioned": True} for d in docs
                  for s in mentions(f"{d.title}\n{d.text}", inventory) if s not in d.services]
        named = template_links(db, docs)
        try:
            synced = graph_runbooks.sync_runbook_documents(graph, [d.row() for d in docs], links, report.gone, named)
            report.linked, report.templates_linked = synced["linked"], synced["templates"]
        except GraphUnavailable as exc:
            report.graph = f"unavailable ({exc}); documents kept in MariaDB, run the ingest again to link them"
    else:
        report.graph = "not configured"
    return report


def _embed_missing(db: Database, embedder: Embedder, docs: list[RunbookDoc]) -> int:
    """Embed each of these documents' sections whose vector is missing or was made from other
    text; drop the vectors of sections marked gone (any directory's)."""
    table = vectors.ensure(db, "runbook", embedder.name, embedder.dim)
    have = vectors.hashes(db, table)
    todo = [(d, s) for d in docs for s in d.sections if have.get((d.id, s.section)) != s.content_hash]
    gone = {k for k, (_, is_gone) in runbook_sql.stored(db)[1].items() if is_gone}
    with db.transaction() as cur:
        vectors.delete_runbook_sections(cur, table, [k for k in have if k in gone])
        for start in range(0, len(todo), 32):
            batch = todo[start:start + 32]
            matrix = embedder.embed([_embed_text(d.title, s.heading, s.body) for d, s in batch])
            vectors.store(cur, table, [(d.id, s.section, s.content_hash, matrix[i].astype("<f4").tobytes())
                                       for i, (d, s) in enumerate(batch)])
    return len(todo)


@dataclass
class RunbookQuery:
    text: str                                               # a question, or the incident's title
    services: list[str] = field(default_factory=list)       # most important first (the root cause)
    template_ids: list[int] = field(default_factory=list)
    template_texts: list[str] = field(default_factory=list) # also queries of their own
    detectors: list[str] = field(default_factory=list)
    k: int = 5


def _template_match(names: list, ids: set[int], texts: list[str]) -> str | None:
    lowered = [t.lower() for t in texts]
    for name in names:
        if isinstance(name, int) and name in ids:
            return f"template {name}"
        if isinstance(name, str) and any(name.lower() in t for t in lowered):
            return f"template text \"{name}\""
    return None


def _similarities(db: Database, embedder: Embedder | None, q: RunbookQuery) -> tuple[dict, Any]:
    """(section -> best cosine similarity over the query texts, a scorer for more sections)."""
    table = vectors.existing(db, "runbook", embedder.name, embedder.dim) if embedder is not None else None
    texts = [t[:EMBED_CHARS] for t in [q.text, *q.template_texts[:MAX_QUERY_TEXTS - 1]] if t.strip()]
    if not table or not texts:
        return {}, lambda keys: {}
    try:
        queries = [row.astype("<f4").tobytes() for row in embedder.embed([embedding_text(t) for t in texts])]
    except Exception as exc:  # noqa: BLE001 - any embedder backend's failure costs the semantic part only
        log.warning("runbook search without the semantic part: the embedder failed (%s)", exc)
        return {}, lambda keys: {}
    best: dict[tuple[str, str], float] = {}
    for vector in queries:
        for runbook_id, section, distance in vectors.knn(db, table, vector, KNN):
            best[(runbook_id, section)] = max(best.get((runbook_id, section), 0.0), 1.0 - distance)

    def more(keys: list[tuple[str, str]]) -> dict:
        out: dict[tuple[str, str], float] = {}
        for vector in queries:
            for key, sim in vectors.similarity(db, table, vector, keys).items():
                out[key] = max(out.get(key, 0.0), sim)
        return out
    return best, more


def _template_links(db: Database, graph: Graph | None, template_ids: list[int], meta: dict) -> dict[str, dict]:
    """runbook -> {whole: its front matter names one, sections: where its text names one, why:
    {template: reason}} for the runbooks linked in the graph to the query's templates (or to
    templates merged into them since the runbook was linked)."""
    if graph is None or not template_ids:
        return {}
    ids = sorted(set(template_ids) | set(runbook_sql.merged_members(db, template_ids)))
    try:
        rows = graph_runbooks.runbook_template_links(graph, ids)
    except GraphUnavailable:
        return {}
    out: dict[str, dict] = {}
    for runbook_id, template_id, sections, why in rows:
        if runbook_id not in meta:
            continue
        link = out.setdefault(runbook_id, {"whole": False, "sections": set(), "why": {}})
        link["whole"] = link["whole"] or not sections
        link["sections"].update(sections)
        link["why"].setdefault(template_id, why)
    return out


def _template_weight(link: dict | None, section: str) -> float:
    """Whole for the sections that name the template (every section when the front matter
    does), half for the runbook's other sections."""
    if not link:
        return 0.0
    return W_TEMPLATE if link["whole"] or section in link["sections"] else W_TEMPLATE * SECONDARY


def find_sections(db: Database, graph: Graph | None, embedder: Embedder | None, q: RunbookQuery) -> list[dict]:
    """The best runbook sections for the query, best first: {runbook_section ("id#section"),
    runbook_id, section, title, heading, score, components, reasons, excerpt}."""
    meta = runbook_sql.live_meta(db)
    if not meta:
        return []
    similarity, more = _similarities(db, embedder, q)
    weight: dict[str, float] = {}
    for i, name in enumerate(q.services):
        weight.setdefault(name, 1.0 if i == 0 else SECONDARY)
    named: dict[str, dict[str, float]] = {}          # runbook -> service -> weight (front matter, inventory)
    mentioned: dict[str, dict[str, float]] = {}      # runbook -> service -> weight (its text names it)
    for runbook_id, m in meta.items():
        for service in set(m.get("services", [])) & set(weight):
            named.setdefault(runbook_id, {})[service] = weight[service]
    if graph is not None and q.services:
        try:
            for runbook_id, service, only_mentioned in graph_runbooks.runbook_links(graph, q.services):
                if runbook_id in meta:
                    (mentioned if only_mentioned else named).setdefault(runbook_id, {})[service] = weight[service]
        except GraphUnavailable:
            pass
    templates = {r: _template_match(m.get("templates", []), set(q.template_ids), q.template_texts)
                 for r, m in meta.items()}
    quoted = _template_links(db, graph, q.template_ids, meta)
    detectors = {r: sorted(set(m.get("detectors", [])) & set(q.detectors)) for r, m in meta.items()}
    linked = (set(named) | set(mentioned) | set(quoted) | {r for r, t in templates.items() if t}
              | {r for r, d in detectors.items() if d})
    keys = set(similarity) | set(runbook_sql.live_sections_of(db, sorted(linked)))
    similarity.update(more([k for k in keys if k not in similarity]))
    found = []
    for key, row in runbook_sql.sections(db, sorted(keys)).items():
        runbook_id = key[0]
        sim = max(0.0, similarity.get(key, 0.0))
        parts = {"semantic": W_SEMANTIC * sim,
                 "service": W_SERVICE * max(named.get(runbook_id, {}).values(), default=0.0),
                 "mention": W_MENTION * max(mentioned.get(runbook_id, {}).values(), default=0.0),
                 "template": max(W_TEMPLATE if templates.get(runbook_id) else 0.0,
                                 _template_weight(quoted.get(runbook_id), key[1])),
                 "detector": W_DETECTOR if detectors.get(runbook_id) else 0.0}
        if sim < MIN_SIMILARITY and not any(parts[k] for k in ("service", "mention", "template", "detector")):
            continue
        reasons = [f"similar to the query ({sim:.2f})"] if sim else []
        if named.get(runbook_id):
            reasons.append("written for " + ", ".join(sorted(named[runbook_id])))
        if mentioned.get(runbook_id):
            reasons.append("mentions " + ", ".join(sorted(mentioned[runbook_id])))
        if templates.get(runbook_id):
            reasons.append(f"names {templates[runbook_id]}")
        for template_id, why in sorted(quoted.get(runbook_id, {}).get("why", {}).items())[:3]:
            reasons.append(f"names the incident's template {template_id} ({why})")
        if detectors.get(runbook_id):
            reasons.append("for the " + ", ".join(detectors[runbook_id]) + " detector")
        found.append({"runbook_section": f"{runbook_id}#{key[1]}", "runbook_id": runbook_id, "section": key[1],
                      "title": row["title"], "heading": row["heading"], "path": row["path"],
                      "score": round(sum(parts.values()), 4), "components": {k: round(v, 4) for k, v in parts.items()},
                      "reasons": reasons, "excerpt": row["body"][:400], "position": row["position"]})
    found.sort(key=lambda f: (-f["score"], f["runbook_id"], f["position"]))
    per_book: dict[str, int] = {}
    kept = []
    for hit in found:                     # at most PER_RUNBOOK sections of one runbook: others get a turn
        per_book[hit["runbook_id"]] = per_book.get(hit["runbook_id"], 0) + 1
        if per_book[hit["runbook_id"]] <= PER_RUNBOOK:
            kept.append(hit)
    return kept[:max(1, min(q.k, 50))]


def best_steps(db: Database, sections: list[dict]) -> dict | None:
    """The steps of the best runbook among `sections` (each with its citation)."""
    if not sections:
        return None
    doc = runbook_sql.document(db, sections[0]["runbook_id"])
    if doc is None:
        return None
    live = [s for s in doc["sections"] if s["gone_at"] is None]
    return {"runbook_id": doc["id"], "title": doc["title"], "path": doc["path"],
            "steps": [{"text": s["text"], "runbook_section": f"{doc['id']}#{s['section']}"} for s in steps(live)]}


__all__ = ["IngestReport", "RunbookError", "RunbookQuery", "best_steps", "find_sections", "ingest_dir", "mentions"]
