"""`devmesh bench retrieve`: hybrid GraphRAG retrieval latency at N templates, M services.

A synthetic fleet of M services on M/5 hosts with random dependencies (each service calls
1-3 others) in FalkorDB; N templates spread over the services, each with a real-model
vector (see bench_search), an example event, and minute rollups over a two-hour history
where a fifth of the templates are active in the last hour. Queries are held-out real log
messages, half with a focus service, half letting the vector hits choose it.
"""
from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime, timedelta

import numpy as np

from db import counts, embeddings, events, scratch
from db import templates as template_sql
from db.graph import Graph
from db.pool import Database
from db.settings import DBUrl
from evals.bench_search import _pct, real_vectors
from ingest.inventory import Edge, Inventory, Service
from retrieval.hybrid import HybridQuery, hybrid_search
from retrieval.topology import load_inventory

NOW = datetime(2026, 1, 20, 12, 0)


def fleet(services: int, rng: random.Random) -> Inventory:
    inv = Inventory(source="bench")
    for i in range(services):
        inv.services[f"svc-{i}"] = Service(f"svc-{i}", "api", hosts=[f"host-{i % max(1, services // 5)}"])
    for i in range(1, services):
        for j in rng.sample(range(i), min(i, rng.randint(1, 3))):
            inv.edges.append(Edge(f"svc-{i}", f"svc-{j}", "CALLS"))
    return inv


class _FixedEmbedder:
    """Hands out precomputed query vectors (the real model's), in order."""

    name, dim = "bench-fixed", 384

    def __init__(self, vectors: np.ndarray):
        self._vectors, self._next = vectors, 0

    def embed(self, texts: list[str]) -> np.ndarray:
        out = self._vectors[self._next % len(self._vectors)][None, :]
        self._next += 1
        return out


def _load(db: Database, vectors: np.ndarray, n: int, services: int, rng: random.Random) -> str:
    table = embeddings.ensure_model(db, "bench-minilm", vectors.shape[1])
    ids = [int.from_bytes(hashlib.blake2b(f"t{i}".encode(), digest_size=8).digest(), "big") >> 11 for i in range(n)]
    for lo in range(0, n, 2000):
        chunk = range(lo, min(lo + 2000, n))
        with db.transaction() as cur:
            template_sql.insert_new(cur, [(ids[i], hashlib.blake2b(f"t{i}".encode(), digest_size=16).digest(),
                                           f"synthetic template {i} <NUM>", "info", NOW - timedelta(hours=2),
                                           NOW, 1) for i in chunk])
            events.insert_events(cur, [(hashlib.blake2b(f"e{i}".encode(), digest_size=16).digest(),
                                        NOW - timedelta(minutes=rng.randrange(120)), f"host-{i % max(1, services // 5)}",
                                        f"svc-{i % services}", "", "info", f"synthetic line {i} 42", None, None, None,
                                        None, None, ids[i]) for i in chunk])
            rollups = []
            for i in chunk:
                for minute in rng.sample(range(60, 120), 2) + (rng.sample(range(60), 3) if i % 5 == 0 else []):
                    rollups.append(((NOW - timedelta(minutes=minute)).replace(second=0), f"svc-{i % services}",
                                    f"host-{i % max(1, services // 5)}", ids[i], "info", rng.randint(1, 20)))
            counts.add(cur, rollups)
            counts.add_services(cur, rollups)
        embeddings.store(db, table, [(ids[i], vectors[i].tobytes()) for i in chunk])
    return table


def run(url: DBUrl, graph_url: str, templates: int = 100_000, services: int = 200, queries: int = 100) -> dict:
    rng = random.Random(5)
    vectors, query_vectors, source = real_vectors(templates, queries, np.random.default_rng(5))
    scratch_url = scratch.create_database(url, "benchretrieve")
    db = Database(scratch_url)
    graph = Graph(graph_url, f"devmesh_bench_{scratch_url.database}")
    try:
        inv = fleet(services, rng)
        load_inventory(graph, inv)
        start = time.perf_counter()
        table = _load(db, vectors, templates, services, rng)
        load_s = time.perf_counter() - start
        embedder = _FixedEmbedder(query_vectors)
        latencies = []
        for q in range(queries):
            query = HybridQuery("held-out line", services=[f"svc-{rng.randrange(services)}"] if q % 2 else None,
                                since=NOW - timedelta(hours=1), until=NOW, k=10)
            start = time.perf_counter()
            found = hybrid_search(db, table, embedder, graph, query, NOW)
            latencies.append((time.perf_counter() - start) * 1e3)
            assert found, "hybrid retrieval returned nothing"
    finally:
        db.close()
        graph.drop()
        graph.close()
        scratch.drop_database(scratch_url)
    return {"templates": templates, "services": services, "queries": queries, "vectors": source,
            "load_s": round(load_s, 1), "p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95)}



