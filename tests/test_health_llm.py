"""Issue 24 (3): /health and /info show the LLM's state: the configured backend, model and
URL, reachable or not (a 1 s probe). The LLM is outside the machine here: respx answers
`/v1/models` in the shape llama.cpp's server (and any OpenAI-compatible one) uses, and
Ollama's `/api/tags`; our own app runs for real on the test's database."""
from __future__ import annotations

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from agents.llm import LLMSettings
from tests.conftest import make_settings

LLAMA_CPP_MODELS = {   # llama.cpp server's GET /v1/models
    "models": [{"name": "qwen2.5-coder-0.5b-instruct", "model": "qwen2.5-coder-0.5b-instruct", "modified_at": "",
                "size": "", "digest": "", "type": "model", "description": "", "tags": [""],
                "capabilities": ["completion"], "parameters": "", "details": {"parent_model": "", "format": "gguf",
                                                                              "family": "", "families": [""]}}],
    "object": "list",
    "data": [{"id": "qwen2.5-coder-0.5b-instruct", "object": "model", "created": 1767225600, "owned_by": "llamacpp",
              "meta": {"vocab_type": 2, "n_vocab": 151936, "n_ctx_train": 32768, "n_embd": 896,
                       "n_params": 494032768, "size": 491400064}}]}
OLLAMA_TAGS = {"models": [{"name": "qwen2.5:7b-instruct", "model": "qwen2.5:7b-instruct",
                           "modified_at": "2026-01-10T09:00:00.0Z", "size": 4683087332, "digest": "845dbda0ea48",
                           "details": {"format": "gguf", "family": "qwen2", "parameter_size": "7.6B",
                                       "quantization_level": "Q4_K_M"}}]}


def app_client(db_urls, **llm):
    import server

    return TestClient(server.create_app(make_settings(db_urls, llm=LLMSettings(**llm))))


def states(c) -> tuple[dict, dict]:
    health = c.get("/health")
    assert health.status_code == 200                      # an optional LLM never makes /health degraded
    return health.json()["dependencies"]["llm"], c.get("/info").json()["llm"]


@pytest.mark.parametrize("model, listed", [("qwen2.5-coder-0.5b-instruct", True), ("another-model", False)])
def test_an_openai_compatible_server_that_answers(db_urls, model, listed):
    with respx.mock(assert_all_called=False) as mock:
        answer = httpx.Response(200, json=LLAMA_CPP_MODELS)
        models = mock.get("http://llm.test:8080/v1/models").mock(return_value=answer)
        with app_client(db_urls, backend="openai", url="http://llm.test:8080/v1", model=model, api_key="k1") as c:
            health, info = states(c)
            for state in (health, info):
                assert state["status"] == "ok" and state["backend"] == "openai"
                assert state["url"] == "http://llm.test:8080/v1" and state["model"] == model
                assert state["models"] == ["qwen2.5-coder-0.5b-instruct"] and state["model_listed"] is listed
            assert models.calls.last.request.headers["authorization"] == "Bearer k1"
            c.app.state.graph.drop()


def test_ollama_tags_and_an_llm_that_is_down_or_slow(db_urls):
    with respx.mock(assert_all_called=False) as mock:
        tags = mock.get("http://ollama.test:11434/api/tags").mock(return_value=httpx.Response(200, json=OLLAMA_TAGS))
        with app_client(db_urls, backend="ollama", url="http://ollama.test:11434", model="qwen2.5:7b-instruct") as c:
            health, _ = states(c)
            assert health["status"] == "ok" and health["model_listed"] is True
            tags.mock(side_effect=httpx.ConnectError("connection refused"))
            health, info = states(c)
            assert health["status"] == info["status"] == "down" and "ConnectError" in health["error"]
            tags.mock(side_effect=httpx.ReadTimeout("timed out"))
            assert states(c)[0]["status"] == "down"
            tags.mock(return_value=httpx.Response(500, text="model runner crashed"))
            assert "500" in states(c)[0]["error"]
            c.app.state.graph.drop()


def test_no_llm_is_off(client):
    health = client.get("/health").json()["dependencies"]["llm"]
    assert health["status"] == "off" and health["backend"] == "none"
    assert client.get("/info").json()["llm"]["status"] == "off"
