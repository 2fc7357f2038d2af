"""Bearer tokens and their scopes (DEVMESH_API_TOKENS), and the scope each request needs.

`TOKEN` alone is admin (as before scopes existed); `TOKEN:ingest`, `TOKEN:read` or
`TOKEN:read+ingest` limit it. ingest = the receivers (give it to shippers and Alertmanager);
read = every GET and the chat (which then cannot open incidents); admin = everything.
Light (no third-party imports): the CLI imports it when reading settings.
"""
from __future__ import annotations

import ipaddress

from ingest.body_limit import is_receiver

SCOPES = {"ingest": {"ingest"}, "read": {"read"}, "admin": {"ingest", "read", "admin"}}
READ_POSTS = {"/chat", "/analyze", "/analyze/window"}


def parse_tokens(text: str) -> dict[str, set[str]]:
    """token -> the scopes it holds; ValueError names an unknown scope."""
    out: dict[str, set[str]] = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        token, _, scopes = item.partition(":")
        names = {x.strip() for x in scopes.split("+") if x.strip()} or {"admin"}
        unknown = names - set(SCOPES)
        if unknown:
            raise ValueError(f"DEVMESH_API_TOKENS: unknown scope(s) {sorted(unknown)}; use {', '.join(SCOPES)}")
        out[token.strip()] = {s for n in names for s in SCOPES[n]}
    return out


def required_scope(method: str, path: str) -> str:
    if method == "POST" and is_receiver(path):
        return "ingest"
    if method in ("GET", "HEAD") or (method == "POST" and path in READ_POSTS):
        return "read"
    return "admin"


def is_loopback(host: str) -> bool:
    """`devmesh serve` binds anything else only with tokens set."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
