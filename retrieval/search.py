"""Template vector search (kNN over the model's vectors table) with filters, and log search.

The HNSW index answers `ORDER BY VEC_DISTANCE_COSINE(...) LIMIT k` only, and applies the
LIMIT before any WHERE; so filters (services, levels, time window from the rollups) are
applied to an over-fetched candidate list, never to the index query itself.
"""
from __future__ import annotations

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
