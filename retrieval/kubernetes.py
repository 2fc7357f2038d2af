"""The cluster's topology the server runs with: read on a period, written beside the
inventory in FalkorDB, handed to ingest's service map.

A refresh reads every list (retrieval/kube_api.py), builds the topology against the
inventory in force (retrieval/kube_topology.py), writes it (db/graph_k8s.py) and maps
ingest with it. Between refreshes a watch on pods (from the pod list's resourceVersion)
applies each pod added, changed or deleted to the last snapshot and writes the result at
once; a watch the server ends as too old (410 Gone) makes a full refresh. A failing refresh (401, 403, a timeout, FalkorDB down) changes nothing:
the last good topology stays in the graph and in the service map, and the error is said
in /health and /info (`kubernetes`) until a refresh succeeds.
"""
from __future__ import annotations

import logging
import threading
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
        self.snapshot: dict | None = None                 # the last good lists, kept current by the watch
        self.watch_events = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
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
        with self._lock:
            return self._apply(snapshot)

    def _apply(self, snapshot: dict) -> dict:
        topo = build(snapshot, self.topology.inventory)
        try:
            graph_k8s.sync_k8s(self.graph, topo.hosts, topo.services, topo.edges)
        except GraphUnavailable as exc:
            return self._failed(f"the cluster was read but FalkorDB could not take it ({exc})")
        self.topology.use_kube(topo.index)
        self.snapshot, self.last, self.error, self.last_success = snapshot, topo, None, _now()
        self.resource_versions = dict(snapshot.get("resource_versions") or {})
        return self.status()

    def watch_once(self) -> None:
        """Follow pod changes from the last snapshot until the server ends the watch; each
        change is written at once. Raises KubeError (the caller waits and lists again)."""
        if self.client is None or self.snapshot is None:
            return
        since = self.resource_versions.get("pods")
        for event in self.client.watch("/api/v1/pods", since, self.settings.watch_s):
            kind, item = event.get("type"), event["object"]
            version = (item.get("metadata") or {}).get("resourceVersion")
            if kind == "ERROR":
                if item.get("code") == 410:               # too old: the list moved on; read it all again
                    self.refresh()
                    return
                raise KubeError(f"the watch on pods failed ({str(item.get('message'))[:200]})")
            with self._lock:
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    key = ((item.get("metadata") or {}).get("namespace"), (item.get("metadata") or {}).get("name"))
                    pods = [p for p in self.snapshot.get("pods") or []
                            if ((p.get("metadata") or {}).get("namespace"), (p.get("metadata") or {}).get("name")) != key]
                    if kind != "DELETED":
                        pods.append(item)
                    self.watch_events += 1
                    self._apply({**self.snapshot, "pods": pods,
                                 "resource_versions": {**self.resource_versions, "pods": version}})
                elif version:                             # BOOKMARK: only the version moves on
                    self.resource_versions["pods"] = version

    def start(self) -> None:
        """The watcher thread (when DEVMESH_K8S_WATCH): watch, and after a failure wait a
        refresh period (the periodic full read goes on meanwhile)."""
        if self.client is None or not self.settings.watch or self._watcher is not None:
            return
        self._watcher = threading.Thread(target=self._watch_loop, name="kubernetes-watch", daemon=True)
        self._watcher.start()

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.watch_once()
                self._stop.wait(1 if self.snapshot is not None else max(self.settings.refresh_s, 5))
            except KubeError as exc:
                self._failed(str(exc))
                self._stop.wait(max(self.settings.refresh_s, 5))
            except Exception as exc:  # noqa: BLE001 - the watch is best effort; the periodic read goes on
                log.warning("kubernetes watch: %s: %s", type(exc).__name__, exc)
                self._stop.wait(max(self.settings.refresh_s, 5))

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
                "resource_versions": self.resource_versions, "watch": self._watcher is not None,
                "watch_events": self.watch_events, **(self.last.counts() if self.last else {})}

    def close(self) -> None:
        self._stop.set()
        if self.client is not None:
            self.client.close()
