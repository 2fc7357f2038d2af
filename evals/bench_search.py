"""`devmesh bench search`: kNN latency and recall of the MariaDB VECTOR index at N templates.

Vectors come from the real local model: all-MiniLM-L6-v2 embeds ~2,000 real log messages
(Loghub-2k, from ../shared), and the N stored vectors are those embeddings moved along
directions drawn from the same embeddings (so they keep the model's real covariance),
L2-normalized. Embedding 100k real templates would take ~10 minutes on 2 CPU cores; this
keeps the distribution and costs ~15 s. Queries are embeddings of held-out real messages
("what do we have that looks like this new line?"). Recall@10 compares the HNSW answer
with an exact scan of the same table in the same run. Without the Loghub data, a
clustered low-rank generator stands in (and the output says so).
"""
from __future__ import annotations

import time

import numpy as np

from db import embeddings, scratch
from db.pool import Database
from db.settings import DBUrl

DIM = 384


def clustered_vectors(n: int, rng: np.random.Generator, clusters: int = 500, latent: int = 32) -> np.ndarray:
    """Sentence embeddings live near a low-dimensional manifold: clusters in a 32-d latent
    space, projected to 384-d, plus a little isotropic noise."""
    centers = rng.normal(size=(clusters, latent))
    assign = rng.integers(0, clusters, n)
    points = centers[assign] + 0.5 * rng.normal(size=(n, latent))
    vectors = points @ rng.normal(size=(latent, DIM)) + 0.5 * rng.normal(size=(n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype("<f4")


def real_vectors(n: int, queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    from evals.workload import messages
    from ingest.embedders import LocalEmbedder

    texts = sorted(set(messages()))
    if len(texts) < 200:
        vectors = clustered_vectors(n + queries, rng)
        return vectors[:n], vectors[n:], "synthetic (Loghub data absent)"
    rng.shuffle(texts)
    held_out, base_texts = texts[:queries], texts[queries:queries + 2000]
    embedder = LocalEmbedder()
    base = embedder.embed(base_texts)
    query_vectors = embedder.embed(held_out)
    centered = base - base.mean(axis=0)
    picks = rng.integers(0, len(base), n)
    mix = rng.normal(size=(n, 8)) / np.sqrt(8)
    others = centered[rng.integers(0, len(base), (n, 8))]
    vectors = base[picks] + 0.35 * np.einsum("nk,nkd->nd", mix, others)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype("<f4"), query_vectors.astype("<f4"), "all-MiniLM-L6-v2 on Loghub-2k messages"


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def run(url: DBUrl, templates: int = 100_000, queries: int = 200, k: int = 10, ef_search: int = 200) -> dict:
    rng = np.random.default_rng(11)
    vectors, noisy, source = real_vectors(templates, queries, rng)
    scratch_url = scratch.create_database(url, "benchsearch")
    db = Database(scratch_url)
    try:
        table = embeddings.ensure_model(db, "bench-clustered", DIM)
        start = time.perf_counter()
        for lo in range(0, templates, 1000):
            embeddings.store(db, table, [(i + 1, vectors[i].tobytes()) for i in range(lo, min(lo + 1000, templates))])
        load_s = time.perf_counter() - start
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
    return {"templates": templates, "vectors": source, "dim": DIM, "k": k, "ef_search": ef_search, "queries": queries,
            "load_rows_per_s": round(templates / load_s), "p50_ms": _pct(ann_ms, 50), "p95_ms": _pct(ann_ms, 95),
            "recall_at_10": round(float(np.mean(recalls)), 4), "exact_p50_ms": _pct(exact_ms, 50),
            "exact_p95_ms": _pct(exact_ms, 95)}
