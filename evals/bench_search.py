"""`devmesh bench search`: kNN latency and recall of the MariaDB VECTOR index at N templates.

Vectors are 384-d (all-MiniLM-L6-v2's size), drawn as a mixture of clusters the way
template embeddings bunch by service and wording, L2-normalized; queries are noisy copies
of stored vectors (the "find lines like this one" case). Recall@10 compares the HNSW
answer with an exact scan of the same table in the same run.
"""
from __future__ import annotations

import time

import numpy as np

from db import embeddings, scratch
from db.pool import Database
from db.settings import DBUrl

DIM = 384


def clustered_vectors(n: int, rng: np.random.Generator, clusters: int = 500) -> np.ndarray:
    centers = rng.normal(size=(clusters, DIM))
    assign = rng.integers(0, clusters, n)
    vectors = centers[assign] + 0.6 * rng.normal(size=(n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype("<f4")


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def run(url: DBUrl, templates: int = 100_000, queries: int = 200, k: int = 10, ef_search: int = 200) -> dict:
    rng = np.random.default_rng(11)
    vectors = clustered_vectors(templates, rng)
    scratch_url = scratch.create_database(url, "benchsearch")
    db = Database(scratch_url)
    try:
        table = embeddings.ensure_model(db, "bench-clustered", DIM)
        start = time.perf_counter()
        for lo in range(0, templates, 1000):
            embeddings.store(db, table, [(i + 1, vectors[i].tobytes()) for i in range(lo, min(lo + 1000, templates))])
        load_s = time.perf_counter() - start
        picks = rng.integers(0, templates, queries)
        noisy = vectors[picks] + 0.15 * rng.normal(size=(queries, DIM)).astype("<f4")
        noisy = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype("<f4")
        for q in noisy[:10]:                                   # warm the index cache
            embeddings.knn(db, table, q.tobytes(), k, ef_search)
        ann_ms, exact_ms, recalls = [], [], []
        for q in noisy:
            start = time.perf_counter()
            approx = embeddings.knn(db, table, q.tobytes(), k, ef_search)
            ann_ms.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            exact = embeddings.knn(db, table, q.tobytes(), k, exact=True)
            exact_ms.append((time.perf_counter() - start) * 1e3)
            recalls.append(len({a for a, _ in approx} & {e for e, _ in exact}) / k)
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    return {"templates": templates, "dim": DIM, "k": k, "ef_search": ef_search, "queries": queries,
            "load_rows_per_s": round(templates / load_s), "p50_ms": _pct(ann_ms, 50), "p95_ms": _pct(ann_ms, 95),
            "recall_at_10": round(float(np.mean(recalls)), 4), "exact_p50_ms": _pct(exact_ms, 50),
            "exact_p95_ms": _pct(exact_ms, 95)}
