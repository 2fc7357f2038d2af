"""The LLM factory: Ollama through langchain-ollama, any OpenAI-compatible server (llama.cpp's
server, vLLM, LM Studio) through langchain-openai, or none (deterministic mode)."""
from __future__ import annotations

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
    structured: bool = False              # hold each step to a JSON schema (small local models)


def build_chat_model(settings: LLMSettings):
    """A ChatOllama with reasoning off and temperature 0, or None without an LLM."""
    if settings.backend == "none":
        return None
    if settings.backend == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=settings.model, base_url=settings.url, api_key=settings.api_key, temperature=0,
                          seed=7, timeout=settings.timeout_s, max_retries=1)
    if settings.backend != "ollama":
        raise ValueError(f"DEVMESH_LLM_BACKEND={settings.backend!r}: use none, ollama or openai")
    from langchain_ollama import ChatOllama

    return ChatOllama(model=settings.model, base_url=settings.url, num_ctx=settings.num_ctx,
                      keep_alive=settings.keep_alive, temperature=0, seed=7, reasoning=False,
                      client_kwargs={"timeout": settings.timeout_s})


def constrained(model, schema: dict, max_tokens: int):
    """The model with its output held to `schema` and bounded: Ollama's `format` + num_predict,
    or an OpenAI-compatible server's response_format json_schema + max_tokens."""
    if hasattr(model, "num_predict"):                          # ChatOllama
        return model.model_copy(update={"num_predict": max_tokens}).bind(format=schema)
    return model.bind(response_format={"type": "json_schema", "json_schema": {"name": "step", "schema": schema}},
                      max_tokens=max_tokens)
