"""Is the configured LLM there? One short request (GET `<url>/models` on an OpenAI-compatible
server such as llama.cpp's, GET `/api/tags` on Ollama) for /health and /info. Light: httpx
only, no LangChain; never raises (an absent LLM is a state to show, not an error)."""
from __future__ import annotations

import time

import httpx


def probe(settings, timeout_s: float = 1.0) -> dict:
    """`{"backend", "model", "url", "status": off|ok|down, "models", "model_listed", "latency_ms", "error"}`."""
    out = {"backend": settings.backend, "model": settings.model, "url": settings.url}
    if settings.backend == "none":
        return {"backend": "none", "status": "off", "note": "deterministic mode: set DEVMESH_LLM_BACKEND to use one"}
    base = settings.url.rstrip("/")
    openai = settings.backend == "openai"
    url = f"{base}/models" if openai else f"{base}/api/tags"
    headers = {"Authorization": f"Bearer {settings.api_key}"} if openai and settings.api_key else {}
    start = time.perf_counter()
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
        response.raise_for_status()
        body = response.json()
        rows = body.get("data", []) if openai else body.get("models", [])
        models = [str(r.get("id") if openai else r.get("name")) for r in rows if isinstance(r, dict)]
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return {**out, "status": "down", "error": f"GET {url}: {type(exc).__name__}: {exc}"[:300]}
    return {**out, "status": "ok", "models": models[:20], "model_listed": settings.model in models,
            "latency_ms": round((time.perf_counter() - start) * 1e3, 2)}
