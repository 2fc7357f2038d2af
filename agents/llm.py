"""The LLM factory: Ollama through langchain-ollama, or none (deterministic mode)."""
from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_LLM_")

    backend: str = "none"                 # none | ollama
    url: str = "http://127.0.0.1:11434"
    model: str = "qwen2.5:7b-instruct"
    num_ctx: int = 8192
    keep_alive: str = "10m"
    timeout_s: float = 120.0
    max_rounds: int = 3                   # tool rounds before the answer is forced


def build_chat_model(settings: LLMSettings):
    """A ChatOllama with reasoning off and temperature 0, or None without an LLM."""
    if settings.backend == "none":
        return None
    if settings.backend != "ollama":
        raise ValueError(f"DEVMESH_LLM_BACKEND={settings.backend!r}: use none or ollama")
    from langchain_ollama import ChatOllama

    return ChatOllama(model=settings.model, base_url=settings.url, num_ctx=settings.num_ctx,
                      keep_alive=settings.keep_alive, temperature=0, seed=7, reasoning=False,
                      client_kwargs={"timeout": settings.timeout_s})
