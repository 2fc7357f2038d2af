"""Template vector search (kNN over the model's vectors table) with filters, log search, and
template text search (every word a substring of the template text, busiest first).

The HNSW index answers `ORDER BY VEC_DISTANCE_COSINE(...) LIMIT k` only, and applies the
LIMIT before any WHERE; so filters (services, levels, time window from the rollups) are
applied to an over-fetched candidate list, never to the index query itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from db import counts, embeddings, events
from db import templates as template_sql
from db.events import EventFilter
from db.pool import Database
from ingest.canon import canonicalize
from ingest.embedders import Embedder, embedding_text

MAX_K = 100


@dataclass
class TemplateQuery:
    text: str
    k: int = 10
    services: list[str] | None = None
    levels: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    examples: int = 2
    ef_search: int = 200

    @property
    def filtered(self) -> bool:
        return bool(self.services or self.levels or self.since or self.until)


def query_vector(embedder: Embedder, text: str) -> bytes:
    """A log line is masked like a stored template first, so both sides read alike."""
    return embedder.embed([embedding_text(canonicalize(text))])[0].astype("<f4").tobytes()


def search_templates(db: Database, table: str, embedder: Embedder, q: TemplateQuery) -> list[dict]:
    k = max(1, min(q.k, MAX_K))
    fetch = min(k * 10, 1000) if q.filtered else k
    hits = embeddings.knn(db, table, query_vector(embedder, q.text), fetch, ef_search=max(q.ef_search, fetch))
    ids = [tid for tid, _ in hits]
    info = template_sql.get_many(db, ids)
    if q.levels:
        ids = [tid for tid in ids if tid in info and info[tid]["level"] in q.levels]
    if q.services or q.since or q.until:
        in_window = counts.template_totals(db, ids, q.services, q.since, q.until)
        ids = [tid for tid in ids if in_window.get(tid)]
    ids = [tid for tid in ids if tid in info][:k]
    distance = dict(hits)
    services = counts.services_of(db, ids)
    flt = EventFilter(service=q.services, since=q.since, until=q.until)
    samples = events.examples(db, ids, q.examples, flt) if q.examples else {}
    return [{**info[tid], "distance": round(distance[tid], 6), "similarity": round(1 - distance[tid], 6),
             "services": sorted(services.get(tid, [])), "examples": samples.get(tid, [])} for tid in ids]


def search_logs(db: Database, table: str, embedder: Embedder, q: TemplateQuery,
                hosts: list[str] | None = None, per_template: int = 5) -> list[dict]:
    """Events of the nearest templates, nearest template first, newest first within one."""
    found = search_templates(db, table, embedder, TemplateQuery(
        q.text, q.k, q.services, q.levels, q.since, q.until, examples=0, ef_search=q.ef_search))
    flt = EventFilter(service=q.services, host=hosts, since=q.since, until=q.until)
    samples = events.examples(db, [t["id"] for t in found], per_template, flt)
    return [{**event, "template": t["template"], "similarity": t["similarity"]}
            for t in found for event in samples.get(t["id"], [])]


TEXT_CANDIDATES = 1000              # text matches read before the service / window filters
MAX_TERMS = 8
_TERM = re.compile(r'"([^"]+)"|(\S+)')


def text_terms(text: str) -> list[str]:
    """Words to find in template text: each must appear; "a quoted phrase" is one term.
    At most MAX_TERMS (the rest are dropped; the caller says so)."""
    return [(phrase or word).strip() for phrase, word in _TERM.findall(text or "") if (phrase or word).strip()]


def find_templates_by_text(db: Database, q: TemplateQuery) -> tuple[list[dict], list[str], bool]:
    """(templates, terms used, truncated): templates whose text holds every word of q.text,
    busiest first, with their services and example lines; services and a window are
    applied to the first TEXT_CANDIDATES matches (truncated says the text matched more)."""
    terms = text_terms(q.text)[:MAX_TERMS]
    k = max(1, min(q.k, MAX_K))
    windowed = bool(q.services or q.since or q.until)
    found = template_sql.matching(db, terms, q.levels, TEXT_CANDIDATES if windowed else k + 1)
    truncated = len(found) >= TEXT_CANDIDATES if windowed else len(found) > k
    if windowed:
        in_window = counts.template_totals(db, [t["id"] for t in found], q.services, q.since, q.until)
        found = [t for t in found if in_window.get(t["id"])]
    found = found[:k]
    ids = [t["id"] for t in found]
    services = counts.services_of(db, ids)
    flt = EventFilter(service=q.services, since=q.since, until=q.until)
    samples = events.examples(db, ids, q.examples, flt) if q.examples else {}
    return ([{**t, "services": sorted(services.get(t["id"], [])), "examples": samples.get(t["id"], [])} for t in found],
            terms, truncated)
