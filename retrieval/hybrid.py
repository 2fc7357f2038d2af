"""Hybrid GraphRAG retrieval: vector kNN + graph expansion + rollups, one merged ranking.

    candidates  = kNN over template vectors            (source "vector")
                + the window's most severe and busiest templates of the focus services
                  and their direct neighbours                                   ("graph")
    focus       = the services the query names, else those of the best vector hits
    score       = w_semantic * cosine similarity to the query
                + w_graph    * 1 / (1 + hops from the focus)      (0 when unrelated)
                + w_recency  * exp(-age / half-life)              (age of the last sighting)
                + w_anomaly  * how far the window's rate exceeds the baseline before it
Every component is returned with each item, so a ranking can be explained and tuned.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from db import counts, embeddings, events
from db import templates as template_sql
from db.events import EventFilter
from db.graph import Graph
from db.pool import Database
from ingest.embedders import Embedder
from retrieval.evidence import Evidence, example, template_ref
from retrieval.search import query_vector
from retrieval.topology import distances

WEIGHTS = {"semantic": 0.45, "graph": 0.25, "recency": 0.1, "anomaly": 0.2}


@dataclass
class HybridQuery:
    text: str
    services: list[str] | None = None       # the focus; when None, taken from the best vector hits
    levels: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    k: int = 10
    depth: int = 2
    per_service: int = 20
    max_graph_candidates: int = 200
    half_life: timedelta = timedelta(hours=1)
    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    ef_search: int = 200


def anomaly_score(window_count: int, baseline_count: int, window_s: float, baseline_s: float) -> float:
    """0 when the window's rate is at or below the baseline's, up to 1 at 16x (new = 1)."""
    if window_count <= 0:
        return 0.0
    expected = baseline_count * (window_s / baseline_s) if baseline_s > 0 else 0.0
    ratio = (window_count + 1) / (expected + 1)
    return max(0.0, min(1.0, math.log2(ratio) / 4))


def hybrid_search(db: Database, table: str, embedder: Embedder, graph: Graph, q: HybridQuery,
                  now: datetime | None = None) -> list[Evidence]:
    until = q.until or now or datetime.now(timezone.utc).replace(tzinfo=None)
    since = q.since or until - timedelta(hours=1)
    vector = query_vector(embedder, q.text)
    hits = dict(embeddings.knn(db, table, vector, max(50, 5 * q.k), ef_search=q.ef_search))
    sources: dict[int, set[str]] = {tid: {"vector"} for tid in hits}

    focus = q.services
    if not focus:
        top = sorted(hits, key=hits.get)[:5]
        focus = sorted({s for services in counts.services_of(db, top).values() for s in services})
    hops = distances(graph, focus, q.depth) if focus else {}
    expand = sorted(name for name, h in hops.items() if h <= 1)     # candidates: the focus and its neighbours
    if expand:
        for _service, template_id, _n, _lvl in counts.active_templates(
                db, since, until, expand, limit=min(q.per_service * len(expand), q.max_graph_candidates)):
            sources.setdefault(template_id, set()).add("graph")

    ids = list(sources)
    info = template_sql.get_many(db, ids)
    if q.levels:
        ids = [tid for tid in ids if tid in info and info[tid]["level"] in q.levels]
    ids = [tid for tid in ids if tid in info]
    semantic = embeddings.similarity(db, table, vector, ids)
    span = until - since
    stats_of = counts.window_and_baseline(db, ids, since - 4 * span, since, until)
    unseen = [tid for tid in ids if tid not in stats_of]
    services_of = counts.services_of(db, unseen) if unseen else {}
    scored = []
    for tid in ids:
        stats = stats_of.get(tid) or {"count": 0, "baseline": 0, "last": None, "services": services_of.get(tid, [])}
        services = stats["services"]
        in_window = stats["count"] > 0
        last = stats["last"] if in_window or stats["last"] else datetime.fromisoformat(info[tid]["last_seen"].rstrip("Z"))
        age = max(0.0, (until - last).total_seconds())
        parts = {
            "semantic": round(semantic.get(tid, 0.0), 4),
            "graph": round(max((1 / (1 + hops[s]) for s in services if s in hops), default=0.0), 4),
            "recency": round(math.exp(-age / q.half_life.total_seconds()), 4),
            "anomaly": round(anomaly_score(stats["count"], stats["baseline"], span.total_seconds(),
                                           4 * span.total_seconds()), 4),
        }
        score = sum(q.weights[name] * value for name, value in parts.items())
        scored.append((score, tid, parts, services, stats["count"]))
    scored.sort(key=lambda row: (-row[0], row[1]))
    best = scored[: q.k]
    samples = events.examples(db, [tid for _, tid, _, _, _ in best], 2, EventFilter(since=since, until=until))
    return [Evidence("template", template_ref(tid), info[tid]["template"], round(score, 4), parts,
                     sorted(sources[tid]), sorted(services), count, info[tid]["level"],
                     [example(e) for e in samples.get(tid, [])])
            for score, tid, parts, services, count in best]
