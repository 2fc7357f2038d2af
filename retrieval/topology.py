"""The operator's inventory in FalkorDB: load (idempotent, removes what left the file,
never touches inferred edges) and the traversals the API and agents use."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from pydantic_settings import BaseSettings, SettingsConfigDict

from db import graph as cypher
from db import inventory as inventory_sql
from db.graph import Graph, GraphUnavailable
from db.pool import Database, DatabaseUnavailable
from db.settings import REPO_ROOT
from ingest.inventory import Inventory, InventoryError, load, parse
from ingest.kube_refs import KubeIndex
from ingest.service_map import ServiceMap

log = logging.getLogger(__name__)


def payload(inv: Inventory) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Inventory -> (hosts, services, runbooks, edges) rows for db.graph.sync_owned."""
    host_names = {h for s in inv.services.values() for h in s.hosts} | set(inv.hosts)
    hosts = [{"name": n, "address": inv.hosts[n].address if n in inv.hosts else None,
              "role": inv.hosts[n].role if n in inv.hosts else None} for n in sorted(host_names)]
    services = [{"name": s.name, "type": s.type, "aliases": s.aliases, "units": s.units, "ports": s.ports}
                for s in inv.services.values()]
    runbooks = [{"id": r.id, "title": r.title, "path": r.path} for r in inv.runbooks]
    edges = [{"source": s.name, "target": h, "type": "RUNS_ON"} for s in inv.services.values() for h in s.hosts]
    edges += [{"source": e.source, "target": e.target, "type": e.type, "reason": e.reason} for e in inv.all_edges()]
    edges += [{"source": name, "target": r.id, "type": "RELATED_RUNBOOK"} for r in inv.runbooks for name in r.services]
    return hosts, services, runbooks, edges


def load_inventory(graph: Graph, inv: Inventory) -> dict[str, int]:
    return cypher.sync_owned(graph, *payload(inv))


def impact(graph: Graph, service: str) -> dict:
    """Blast radius: who depends on `service` (with hops), and what shares its hosts."""
    return {"service": service,
            "downstream": [{"service": s, "hops": h} for s, h in cypher.downstream(graph, service)],
            "upstream": [{"service": s, "hops": h} for s, h in cypher.upstream(graph, service)],
            "co_hosted": [{"service": s, "host": h} for s, h in cypher.co_hosted(graph, service)]}


def distances(graph: Graph, focus: list[str], depth: int = 2) -> dict[str, int]:
    """Hops from any focus service to every service near it (0 for the focus itself)."""
    return cypher.near(graph, focus, depth)


class TopologySettings(BaseSettings):
    """Where the inventory lives, how often servers look for a newer one, and how often
    dependencies are learned from logs."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_")

    inventory: Path = REPO_ROOT / "inventory.yaml"
    inventory_poll_s: float = 2.0            # how soon a server follows `devmesh load-inventory` (0 = never)
    infer_interval_s: float = 300.0          # 0 turns the background enrichment off
    infer_window_s: float = 3600.0


def publish(db: Database, graph: Graph, inv: Inventory, source: str, body: str) -> dict:
    """Load `inv` into the graph, then make it the inventory every server follows (MariaDB's
    inventory_current). Raises GraphUnavailable / DatabaseUnavailable with nothing published."""
    summary = load_inventory(graph, inv)
    return {**summary, "generation": inventory_sql.publish(db, source, body)}


class TopologyState:
    """The inventory the server runs with: parsed, mapped into ingest, loaded into the graph.

    One inventory for the fleet: whoever loads one (this server from its file at start or on
    POST /graph/reload, another server, `devmesh load-inventory PATH`) publishes it in
    MariaDB; `follow()` (every `inventory_poll_s`) switches to a newer generation. A bad file
    never takes the server down: the previous inventory (or none) stays in force and the
    problems are reported (/health, POST /graph/reload answers 422).
    """

    errors = InventoryError

    def __init__(self, path: Path, graph: Graph, on_services: Callable[[ServiceMap], None], db: Database | None = None):
        self.path, self.graph, self.on_services, self.db = path, graph, on_services, db
        self.inventory: Inventory | None = None
        self.problems: list[str] = []
        self.graph_loaded = False
        self.source: str | None = None
        self.generation: int | None = None
        self.kube: KubeIndex | None = None          # the cluster's pods and workloads (retrieval/kubernetes.py)
        self.listeners: list[Callable[[], object]] = []   # called once a new inventory is in the graph

    def _use(self, inv: Inventory, source: str, generation: int | None) -> None:
        self.inventory, self.problems, self.source, self.generation = inv, list(inv.warnings), source, generation
        self.on_services(ServiceMap(inv, self.kube))

    def use_kube(self, index: KubeIndex) -> None:
        """Map ingest with the cluster's names too (beside the inventory's, which win); a
        refresh that changed nothing keeps the map (and its unmapped counts)."""
        if index != self.kube:
            self.kube = index
            self.on_services(ServiceMap(self.inventory, index))

    def reload(self) -> dict[str, int]:
        """Read this server's file and publish it. Raises InventoryError (nothing changes) or
        GraphUnavailable (ingest mapping is already updated; the graph is loaded on the next
        reload)."""
        body = Path(self.path).read_text() if Path(self.path).exists() else None
        inv = load(self.path) if body is None else parse(body, str(self.path))
        self._use(inv, str(self.path), self.generation)
        self.graph_loaded = False
        if self.db is None:
            summary = load_inventory(self.graph, inv)
        else:
            summary = publish(self.db, self.graph, inv, str(self.path), body)
            self.generation = summary["generation"]
        self.graph_loaded = True
        self._changed()
        return summary

    def _changed(self) -> None:
        """Tell the listeners (the Kubernetes topology builds its last snapshot again: the
        file wins at once); a listener's failure is its own (it says it in /health)."""
        for listener in list(self.listeners):
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - the inventory is in force either way
                log.warning("inventory listener %s: %s: %s", getattr(listener, "__qualname__", listener),
                            type(exc).__name__, exc)

    def follow(self) -> int | None:
        """Switch to the published inventory when its generation is newer than ours (the
        publisher has already loaded it into the graph). Returns the generation in force."""
        if self.db is None:
            return None
        found = inventory_sql.generation(self.db)
        if found is None or found == self.generation:
            return self.generation
        row = inventory_sql.current(self.db)
        try:
            inv = parse(row["body"], row["source"])
        except InventoryError as exc:               # validated before it was published; kept safe anyway
            self.problems = exc.problems
            self.generation = row["generation"]
            return self.generation
        self._use(inv, row["source"], row["generation"])
        self.graph_loaded = True
        self._changed()
        return self.generation

    def start(self) -> None:
        if not Path(self.path).exists():
            self.problems = [f"{self.path}: not found; the server runs without an inventory unless one is "
                             "loaded with `devmesh load-inventory PATH`"]
            self._follow_quietly()
            return
        try:
            self.reload()
        except InventoryError as exc:
            self._follow_quietly()                  # run with the fleet's inventory, but say our file is bad
            self.problems = exc.problems
        except (GraphUnavailable, DatabaseUnavailable) as exc:
            self.problems = [str(exc)]

    def _follow_quietly(self) -> None:
        try:
            self.follow()
        except DatabaseUnavailable:
            pass

    def status(self) -> dict:
        return {"path": str(self.path), "source": self.source, "generation": self.generation,
                "services": len(self.inventory.services) if self.inventory else 0,
                "graph_loaded": self.graph_loaded, "problems": self.problems}
