"""Embedding never blocks ingest; Ollama's /api/embed is spoken in its real shape."""
from __future__ import annotations

import time

import httpx
import numpy as np
import respx
from fastapi.testclient import TestClient

import server
from db import embeddings
from ingest.embedders import EmbedSettings, HashingEmbedder, OllamaEmbedder
from ingest.embedding import EmbeddingWorker
from tests.conftest import make_settings, record


class BrokenEmbedder(HashingEmbedder):
    """An embedder whose backend is down."""

    def embed(self, texts):
        raise ConnectionError("embedding backend unreachable")


def test_failing_embedder_never_blocks_or_loses_an_insert(db_urls, db):
    settings = make_settings(db_urls)
    app = server.create_app(settings)
    with TestClient(app) as c:
        app.state.embed_worker.embedder = BrokenEmbedder(256)
        result = c.post("/ingest/logs", json={"logs": [record(i, message=f"event kind {chr(97 + i)} happened")
                                                       for i in range(5)]}).json()
        assert result["accepted"] == 5 and result["new_templates"] == 5
        deadline = time.monotonic() + 10
        while app.state.embed_worker.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.embed_worker.failures >= 1
        assert "unreachable" in c.get("/info").json()["embedder"]["last_error"]
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 5
    worker = EmbeddingWorker(db, HashingEmbedder(256))          # the backfill fills what was missed
    assert worker.backfill() == 5
    assert embeddings.count_missing(db, worker.table()) == 0


def test_new_templates_are_embedded_in_the_background(client, db):
    client.post("/ingest/logs", json={"logs": [record(i, message=f"worker {chr(97 + i)} ready") for i in range(3)]})
    worker = client.app.state.embed_worker
    deadline = time.monotonic() + 10
    while embeddings.count_missing(db, worker.table()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert embeddings.count_missing(db, worker.table()) == 0


@respx.mock
def test_ollama_embedder_batches_through_api_embed():
    vectors = [[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]]
    route = respx.post("http://ollama.test:11434/api/embed").mock(return_value=httpx.Response(200, json={
        "model": "all-minilm", "embeddings": vectors, "total_duration": 14143917,
        "load_duration": 1019500, "prompt_eval_count": 8}))
    embedder = OllamaEmbedder("http://ollama.test:11434", "all-minilm")
    out = embedder.embed(["disk full", "connection refused"])
    assert route.call_count == 1                                  # one batched call
    sent = route.calls[0].request
    import json

    body = json.loads(sent.content)
    assert body["model"] == "all-minilm" and body["input"] == ["disk full", "connection refused"]
    assert np.allclose(out, [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    assert embedder.dim == 3 and embedder.name == "ollama:all-minilm"


def test_build_embedder_rejects_unknown_backends():
    import pytest

    from ingest.embedders import build_embedder

    with pytest.raises(ValueError, match="local, ollama or hash"):
        build_embedder(EmbedSettings(backend="magic"))
