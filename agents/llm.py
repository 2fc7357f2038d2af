"""The LLM factory: Ollama through langchain-ollama, any OpenAI-compatible server (llama.cpp's
server, vLLM, LM Studio) through langchain-openai, or none (deterministic mode)."""
from __future__ import annotations

import json
import time

import re

from langchain_core.callbacks import BaseCallbackHandler
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_LLM_")

    backend: str = "none"                 # none | ollama | openai (any OpenAI-compatible server)
    url: str = "http://127.0.0.1:11434"   # Ollama's base URL, or the OpenAI-compatible one (.../v1)
    api_key: str = "not-needed"           # llama.cpp, vLLM and LM Studio accept anything locally
    model: str = "qwen2.5:7b-instruct"
    num_ctx: int = 8192
    keep_alive: str = "10m"
    timeout_s: float = 120.0
    max_rounds: int = 3                   # tool rounds before the answer is forced
    structured: bool = False              # plan-execute with JSON-schema plans (small local models)
    max_tokens: int = 1024                # any one reply is cut here (a looping small model fills the context)
    mask_patterns: list[str] = []         # extra regexes redacted before a model reads logs (JSON list)

    @field_validator("mask_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"DEVMESH_LLM_MASK_PATTERNS: {p!r} is not a regular expression ({exc})") from exc
        return patterns


class UsageCounter(BaseCallbackHandler):
    """Model calls and tokens, as the server reports them (usage_metadata of each reply)."""

    def __init__(self):
        self.calls = self.input_tokens = self.output_tokens = 0

    def on_llm_end(self, response, **kwargs) -> None:
        self.calls += 1
        for generations in response.generations:
            for g in generations:
                usage = getattr(getattr(g, "message", None), "usage_metadata", None) or {}
                self.input_tokens += usage.get("input_tokens", 0)
                self.output_tokens += usage.get("output_tokens", 0)

    def snapshot(self) -> dict:
        return {"calls": self.calls, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


class LLMMetrics(BaseCallbackHandler):
    """Each model call's duration, outcome and tokens into /metrics (ingest/telemetry.Metrics)."""

    def __init__(self, metrics, model: str):
        self.metrics, self.model = metrics, model or "unknown"
        self._started: dict = {}

    def on_llm_start(self, serialized, prompts, *, run_id, **kwargs) -> None:
        self._started[run_id] = time.perf_counter()

    def on_chat_model_start(self, serialized, messages, *, run_id, **kwargs) -> None:
        self._started[run_id] = time.perf_counter()

    def on_llm_end(self, response, *, run_id, **kwargs) -> None:
        tokens_in = tokens_out = 0
        for generations in response.generations:
            for g in generations:
                usage = getattr(getattr(g, "message", None), "usage_metadata", None) or {}
                tokens_in += usage.get("input_tokens", 0)
                tokens_out += usage.get("output_tokens", 0)
        self._observe(run_id, True, tokens_in, tokens_out)

    def on_llm_error(self, error, *, run_id, **kwargs) -> None:
        self._observe(run_id, False, 0, 0)

    def _observe(self, run_id, ok: bool, tokens_in: int, tokens_out: int) -> None:
        start = self._started.pop(run_id, None)
        self.metrics.llm_observed(self.model, time.perf_counter() - start if start else 0.0, ok, tokens_in, tokens_out)


def build_chat_model(settings: LLMSettings, callbacks: list | None = None):
    """A chat model at temperature 0 with a fixed seed (Ollama: reasoning off), or None
    without an LLM. `callbacks` see every call (e.g. a UsageCounter)."""
    if settings.backend == "none":
        return None
    if settings.backend == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=settings.model, base_url=settings.url, api_key=settings.api_key, temperature=0,
                          seed=7, timeout=settings.timeout_s, max_retries=1, max_tokens=settings.max_tokens,
                          callbacks=callbacks)
    if settings.backend != "ollama":
        raise ValueError(f"DEVMESH_LLM_BACKEND={settings.backend!r}: use none, ollama or openai")
    from langchain_ollama import ChatOllama

    return ChatOllama(model=settings.model, base_url=settings.url, num_ctx=settings.num_ctx,
                      keep_alive=settings.keep_alive, temperature=0, seed=7, reasoning=False, num_predict=settings.max_tokens,
                      client_kwargs={"timeout": settings.timeout_s}, callbacks=callbacks)


def reply_text(model, messages) -> tuple[str, bool]:
    """(the reply's text, whether it was cut at its token bound). A schema-held reply that
    hits the bound makes openai's parse() raise LengthFinishReasonError; its partial text
    is returned like any other cut-off reply, so callers salvage or drop it in one way."""
    try:
        reply = model.invoke(messages)
    except Exception as exc:
        choices = getattr(getattr(exc, "completion", None), "choices", None)
        if type(exc).__name__ != "LengthFinishReasonError" or not choices:
            raise
        return choices[0].message.content or "", True
    meta = getattr(reply, "response_metadata", {}) or {}
    cut = (meta.get("finish_reason") or meta.get("done_reason")) == "length"
    return (reply.content if isinstance(reply.content, str) else str(reply.content)), cut


def bounded(model, max_tokens: int):
    """The model with its reply cut at `max_tokens` (a small model can repeat itself until
    the context is full: minutes on a CPU), never above the model's own bound
    (DEVMESH_LLM_MAX_TOKENS): every free-text reply stays within the configured cap."""
    if hasattr(model, "num_predict"):                          # ChatOllama
        cap = model.num_predict
        return model.model_copy(update={"num_predict": min(max_tokens, cap) if cap else max_tokens})
    cap = getattr(model, "max_tokens", None)
    return model.bind(max_tokens=min(max_tokens, cap) if cap else max_tokens)


def constrained(model, schema: dict, max_tokens: int):
    """The model with its output held to `schema` and bounded: Ollama's `format` + num_predict,
    or an OpenAI-compatible server's response_format json_schema + max_tokens."""
    if hasattr(model, "num_predict"):                          # ChatOllama
        return model.model_copy(update={"num_predict": max_tokens}).bind(format=schema)
    return model.bind(response_format={"type": "json_schema", "json_schema": {"name": "step", "schema": schema}},
                      max_tokens=max_tokens)


def json_object(text: str) -> dict | None:
    """A reply that should be one JSON object (a ```json fence allowed), or None."""
    text = (text or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None
