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


@lru_cache(maxsize=200_000)
def template_for(message: str) -> Template:
    """The template of a message (cached: identical lines are common)."""
    typed = canonicalize(message)
    template_id, digest = template_key(typed)
    return Template(template_id, digest, typed)


def template_of(message: str) -> tuple[int, str]:
    t = template_for(message)
    return t.id, t.template
