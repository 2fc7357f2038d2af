"""The FalkorDB client, built once and passed in. Cypher queries will live in this module."""
from __future__ import annotations

from falkordb import FalkorDB


def connect(url: str) -> FalkorDB:
    """A client for `redis://host:port` (connections are made lazily, per call)."""
    return FalkorDB.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def ping(client: FalkorDB) -> str:
    """The redis server version; raises when FalkorDB is unreachable."""
    return client.connection.info("server")["redis_version"]
