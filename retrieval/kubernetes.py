"""The cluster's topology the server runs with: read on a period, written beside the
inventory in FalkorDB, handed to ingest's service map.

A refresh reads every list (retrieval/kube_api.py), builds the topology against the
inventory in force (retrieval/kube_topology.py), writes it (db/graph_k8s.py) and maps
ingest with it. A failing refresh (401, 403, a timeout, FalkorDB down) changes nothing:
the last good topology stays in the graph and in the service map, and the error is said
in /health and /info (`kubernetes`) until a refresh succeeds.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from db import graph_k8s
from db.graph import Graph, GraphUnavailable
from retrieval.kube_api import KubeClient, KubeError, KubeSettings, credentials
from retrieval.kube_topology import KubeTopology, build
from retrieval.topology import TopologyState

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class KubeState:
    def __init__(self, settings: KubeSettings, graph: Graph, topology: TopologyState, client: KubeClient | None = None):
        self.settings, self.graph, self.topology = settings, graph, topology
        self.client, self.error = client, None
        self.last: KubeTopology | None = None            # the last good topology
        self.last_success: str | None = None
        self.last_attempt: str | None = None
        self.resource_versions: dict[str, str | None] = {}
        self.source = client.creds.source if client is not None else None
        if client is None:
            try:
                creds = credentials(settings)
            except KubeError as exc:                      # configured but unreadable: say so, stay off
                self.error = str(exc)
                creds = None
            if creds is not None:
                self.client, self.source = KubeClient(creds, settings.timeout_s), creds.source

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def refresh(self) -> dict:
        """Read, build, write, map; a failure keeps the last good topology (and is returned)."""
        if self.client is None:
            return self.status()
        self.last_attempt = _now()
        try:
            snapshot = self.client.snapshot()
        except KubeError as exc:
            return self._failed(str(exc))
        topo = build(snapshot, self.topology.inventory)
        try:
            graph_k8s.sync_k8s(self.graph, topo.hosts, topo.services, topo.edges)
        except GraphUnavailable as exc:
            return self._failed(f"the cluster was read but FalkorDB could not take it ({exc})")
        self.topology.use_kube(topo.index)
        self.last, self.error, self.last_success = topo, None, _now()
        self.resource_versions = snapshot.get("resource_versions") or {}
        return self.status()

    def _failed(self, message: str) -> dict:
        if message != self.error:
            log.warning("kubernetes topology: %s; keeping the last good one (%s)", message,
                        self.last_success or "none yet")
        self.error = message
        return self.status()

    def status(self) -> dict:
        state = "off" if self.client is None and self.error is None else (
            "error" if self.error else "ok" if self.last is not None else "pending")
        return {"status": state, "source": self.source, "server": self.client.creds.server if self.client else None,
                "error": self.error, "last_success": self.last_success, "last_attempt": self.last_attempt,
                "resource_versions": self.resource_versions, **(self.last.counts() if self.last else {})}

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
