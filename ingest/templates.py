"""Template identity: message -> (template id, typed template), the same in every process.

The id is the first 53 bits of the canon hash (BLAKE2b of the generic template), so any
process, with or without a database, computes the same id for the same line, and ids fit
in a JavaScript number (Grafana, browsers). 53 bits make a collision unlikely (about
5e-5 at a million templates); the database's unique canon_hash would reveal one.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from ingest.canon import CANON_VERSION, canonicalize, generic


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    canon_hash: bytes
    template: str                  # typed form, e.g. "Connection to <IP>:<NUM> refused"
    canon_version: int = CANON_VERSION


def template_key(typed: str) -> tuple[int, bytes]:
    digest = hashlib.blake2b(generic(typed).encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big") >> 11, digest


CACHED_MAX_LEN = 1024              # longer lines are templated each time (memory stays bounded)


def template_for(message: str) -> Template:
    """The template of a message (cached: identical lines are common)."""
    return _template_cached(message) if len(message) <= CACHED_MAX_LEN else _template(message)


def _template(message: str) -> Template:
    typed = canonicalize(message)
    template_id, digest = template_key(typed)
    return Template(template_id, digest, typed)


_template_cached = lru_cache(maxsize=200_000)(_template)


def clear_caches() -> None:
    """Cold start (benchmarks): forget templated lines and digit shapes."""
    from ingest.canon import clear_caches as clear_canon

    _template_cached.cache_clear()
    clear_canon()


def template_of(message: str) -> tuple[int, str]:
    t = template_for(message)
    return t.id, t.template


def learned_templates_of(messages: list[str]) -> list[tuple[int, str]]:
    """(template id, template) per message with the learned layer over these messages alone
    (ingest/learn.py): what the database would hold once the learner ran over them."""
    from ingest.learn import learned_groups

    canon = [template_for(m) for m in messages]
    typed: dict[str, list[str]] = {}
    for t in canon:
        typed.setdefault(generic(t.template), []).append(t.template)
    final = {g: (template_key(target)[0], display)
             for target, (members, display) in learned_groups(typed).items() for g in members}
    out = []
    for t in canon:
        hit = final.get(generic(t.template))
        out.append(hit if hit is not None else (t.id, t.template))
    return out
