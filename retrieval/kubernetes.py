"""The cluster's topology the server runs with: read on a period, written beside the
inventory in FalkorDB, handed to ingest's service map.

A refresh reads every list (retrieval/kube_api.py), builds the topology against the
inventory in force (retrieval/kube_topology.py), writes it (db/graph_k8s.py) and maps
ingest with it. Between refreshes a watch on each list (namespaces, nodes, pods,
services, deployments, replicasets, statefulsets, daemonsets; each from its list's
resourceVersion, in its own thread) applies every object added, changed or deleted to the
last snapshot; one writer thread builds and writes the result within
`DEVMESH_K8S_WATCH_DEBOUNCE_S` (a burst of events, a rollout, is one write). A watch the
server ends as too old (410 Gone, as the HTTP status or as an ERROR event) lists that one
list again. When the inventory changes, the last snapshot is built again against it at
once (`reapply`). A failing refresh (401, 403, a timeout, FalkorDB down) changes nothing:
the last good topology stays in the graph and in the service map, and the error is said
in /health and /info (`kubernetes`) until a refresh succeeds.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from db import graph_k8s
from db.graph import Graph, GraphUnavailable
from retrieval.kube_api import LISTS, KubeClient, KubeError, KubeGone, KubeSettings, credentials
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
        self.snapshot: dict | None = None                 # the last good lists, kept current by the watches
        self.watch_events: dict[str, int] = {}            # list -> events applied
        self.relists: dict[str, int] = {}                 # list -> times listed again after 410 Gone
        self._dirty = False                               # the snapshot changed since it was written
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._changed = threading.Event()                 # set by a watch event, cleared by the writer
        self._watchers: list[threading.Thread] = []
        if client is None:
            try:
                creds = credentials(settings)
            except KubeError as exc:                      # configured but unreadable: say so, stay off
                self.error = str(exc)
                creds = None
            if creds is not None:
                self.client, self.source = KubeClient(creds, settings.timeout_s), creds.source
        if self.client is not None:
            topology.listeners.append(self.reapply)       # a new inventory: the file wins at once

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
            self.resource_versions = dict(snapshot.get("resource_versions") or {})
            self.snapshot, self._dirty = snapshot, False
            return self._apply()

    def reapply(self) -> dict:
        """Build the last snapshot again against the inventory in force (after it changed:
        the file wins at once, not at the next read)."""
        with self._lock:
            return self._apply() if self.snapshot is not None else self.status()

    def _apply(self) -> dict:
        """Build the snapshot, write it, map ingest with it (the caller holds the lock)."""
        topo = build(self.snapshot, self.topology.inventory)
        try:
            graph_k8s.sync_k8s(self.graph, topo.hosts, topo.services, topo.edges)
        except GraphUnavailable as exc:
            self._dirty = True                            # written again at the next flush or read
            return self._failed(f"the cluster was read but FalkorDB could not take it ({exc})")
        self.topology.use_kube(topo.index)
        self.last, self.error, self.last_success = topo, None, _now()
        return self.status()

    def flush(self) -> None:
        """Write what the watches changed since the last write (nothing when nothing did)."""
        with self._lock:
            if self._dirty and self.snapshot is not None:
                self._dirty = False
                self._apply()

    def apply_event(self, name: str, event: dict) -> bool:
        """One watch event of list `name` applied to the snapshot (not yet written: flush()).
        True when the snapshot changed. Raises KubeGone on an ERROR with code 410 and
        KubeError on any other ERROR."""
        kind, item = event.get("type"), event["object"]
        meta = item.get("metadata") or {}
        if kind == "ERROR":
            message = f"the watch on {name} failed ({str(item.get('message'))[:200]})"
            raise KubeGone(message) if item.get("code") == 410 else KubeError(message)
        with self._lock:
            if self.snapshot is None:
                return False
            if meta.get("resourceVersion"):
                self.resource_versions[name] = meta["resourceVersion"]
            if kind not in ("ADDED", "MODIFIED", "DELETED"):
                return False                              # BOOKMARK: only the version moves on
            key = (meta.get("namespace"), meta.get("name"))
            items = [i for i in self.snapshot.get(name) or []
                     if ((i.get("metadata") or {}).get("namespace"), (i.get("metadata") or {}).get("name")) != key]
            if kind != "DELETED":
                items.append(item)
            self.snapshot = {**self.snapshot, name: items}
            self.watch_events[name] = self.watch_events.get(name, 0) + 1
            self._dirty = True
        self._changed.set()
        return True

    def relist(self, name: str) -> None:
        """List `name` again (its watch was too old: 410 Gone) and write the result."""
        items, version = self.client.list(LISTS[name])
        with self._lock:
            if self.snapshot is not None:
                self.snapshot = {**self.snapshot, name: items}
                self.resource_versions[name] = version
                self.relists[name] = self.relists.get(name, 0) + 1
                self._dirty = True
        self.flush()

    def watch_once(self, name: str = "pods") -> None:
        """Follow list `name` from its last version until the server ends the watch, then
        write what changed (the writer thread writes sooner while the watch lasts). 410
        Gone lists it again. Raises KubeError (the caller waits and tries again)."""
        if self.client is None or self.snapshot is None:
            return
        try:
            for event in self.client.watch(LISTS[name], self.resource_versions.get(name), self.settings.watch_s):
                self.apply_event(name, event)
        except KubeGone:
            self.relist(name)
        finally:
            self.flush()

    def start(self) -> None:
        """A watcher thread per list (when DEVMESH_K8S_WATCH) and one writer; a watch that
        fails waits a refresh period (the periodic full read goes on meanwhile)."""
        if self.client is None or not self.settings.watch or self._watchers:
            return
        self._watchers = [threading.Thread(target=self._watch_loop, args=(name,), name=f"kubernetes-watch-{name}",
                                           daemon=True) for name in LISTS]
        self._watchers.append(threading.Thread(target=self._write_loop, name="kubernetes-write", daemon=True))
        for thread in self._watchers:
            thread.start()

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            if not self._changed.wait(1.0):
                continue
            self._stop.wait(self.settings.watch_debounce_s)   # a burst (a rollout) is one write
            self._changed.clear()
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the next event or read writes again
                log.warning("kubernetes write: %s: %s", type(exc).__name__, exc)

    def _watch_loop(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                self.watch_once(name)
                self._stop.wait(1 if self.snapshot is not None else max(self.settings.refresh_s, 5))
            except KubeError as exc:
                self._failed(str(exc))
                self._stop.wait(max(self.settings.refresh_s, 5))
            except Exception as exc:  # noqa: BLE001 - the watch is best effort; the periodic read goes on
                log.warning("kubernetes watch on %s: %s: %s", name, type(exc).__name__, exc)
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
                "resource_versions": self.resource_versions, "watch": bool(self._watchers),
                "watch_events": sum(self.watch_events.values()), "watch_events_by_list": dict(self.watch_events),
                "relists": dict(self.relists), **(self.last.counts() if self.last else {})}

    def close(self) -> None:
        self._stop.set()
        if self.client is not None:
            self.client.close()
