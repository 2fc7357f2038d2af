"""Which inventory service a record belongs to, from its (host, unit/identifier/service).

Looked up in order: the service's name, an alias, a unit (with or without `.service`),
case-insensitively. When several services claim a unit, the one on the record's host wins.
Records that map to nothing keep their raw service name and are counted as unmapped.

With a Kubernetes cluster (retrieval/kube_topology.py), a record's k8s labels or resource
attributes (its pod, its workload) map first, and the cluster's workload and Service names
are names too, after the inventory's (the file wins where both speak).

Every way in maps with the same inventory: the server follows the one published in MariaDB
(retrieval/topology.TopologyState), and `devmesh import` takes that one too (`fleet_map`),
else the inventory file it is configured with.
"""
from __future__ import annotations

import threading
from collections import Counter

from pathlib import Path

from db import inventory as inventory_sql
from db.pool import Database
from ingest.inventory import Inventory, load, parse
from ingest.kube_refs import KubeIndex, k8s_ref

_SUFFIXES = (".service", ".scope", ".socket", ".timer")


def _bare(name: str) -> str:
    lowered = name.lower()
    for suffix in _SUFFIXES:
        if lowered.endswith(suffix):
            return lowered[: -len(suffix)]
    return lowered


class ServiceMap:
    def __init__(self, inventory: Inventory | None = None, kube: KubeIndex | None = None):
        self.kube = kube
        self._direct: dict[str, str] = {}
        self._units: dict[str, list[tuple[str, frozenset[str]]]] = {}
        self.unmapped: Counter[str] = Counter()
        self._lock = threading.Lock()
        if inventory is not None:
            for service in inventory.services.values():
                for name in (service.name, *service.aliases):
                    self._direct.setdefault(name.lower(), service.name)
                    self._direct.setdefault(_bare(name), service.name)
                for unit in service.units:
                    for key in {unit.lower(), _bare(unit)}:
                        self._units.setdefault(key, []).append((service.name, frozenset(service.hosts)))
        if kube is not None:
            for name, mapped in kube.names.items():
                self._direct.setdefault(name, mapped)

    def resolve(self, host: str, service: str, meta: dict | None = None) -> str | None:
        if self.kube is not None and meta:
            ref = k8s_ref(meta)
            found = self.kube.resolve(ref) if ref is not None else None
            if found is not None:
                return found
        key = service.lower()
        for candidate in (key, _bare(service)):
            claims = self._units.get(candidate)
            if claims:
                on_host = [name for name, hosts in claims if host in hosts]
                return on_host[0] if on_host else claims[0][0]
            if candidate in self._direct:
                return self._direct[candidate]
        return None

    def names(self) -> dict[str, str]:
        """Every lower-case name, alias and unit (with and without suffix) -> service."""
        out = dict(self._direct)
        for key, claims in self._units.items():
            out.setdefault(key, claims[0][0])
        return out

    def note_unmapped(self, service: str) -> None:
        with self._lock:
            if len(self.unmapped) < 10_000 or service in self.unmapped:   # bounded
                self.unmapped[service] += 1

    def unmapped_summary(self, top: int = 10) -> dict:
        with self._lock:
            return {"records": sum(self.unmapped.values()),
                    "services": [{"service": s, "records": n} for s, n in self.unmapped.most_common(top)]}


def fleet_map(db: Database, path: Path | None) -> tuple[ServiceMap | None, str | None]:
    """(the service map a server of this database maps with now, where its inventory came
    from): the inventory published in MariaDB (what every server follows), else the file at
    `path`; (None, None) when there is neither. A bad file raises InventoryError."""
    published = inventory_sql.current(db)
    if published is not None:
        return ServiceMap(parse(published["body"], published["source"])), published["source"]
    if path is None or not Path(path).exists():
        return None, None
    return ServiceMap(load(path)), str(path)
