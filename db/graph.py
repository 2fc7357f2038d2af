"""The FalkorDB client, built once and passed in. Cypher queries will live in this module.

The `falkordb` client talks to the server when constructed, so the handle connects on
first use: a server starts (and reports the graph as down) while FalkorDB is unreachable.
"""
from __future__ import annotations

import threading

from falkordb import FalkorDB


class Graph:
    def __init__(self, url: str, name: str = "devmesh", timeout_ms: int = 2000):
        self.url, self.name, self.timeout_ms = url, name, timeout_ms
        self._client: FalkorDB | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> FalkorDB:
        with self._lock:
            if self._client is None:
                self._client = FalkorDB.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            return self._client

    def ping(self) -> str:
        """The redis server version; raises when FalkorDB is unreachable."""
        return self.client.connection.info("server")["redis_version"]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.connection.close()
                self._client = None
