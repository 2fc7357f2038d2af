"""The operator's inventory in FalkorDB: load (idempotent, removes what left the file,
never touches inferred edges) and the traversals the API and agents use."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic_settings import BaseSettings, SettingsConfigDict

from db import graph as cypher
from db.graph import Graph, GraphUnavailable
from db.settings import REPO_ROOT
from ingest.inventory import Inventory, InventoryError, load
from ingest.service_map import ServiceMap


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
    """Where the inventory lives and how often dependencies are learned from logs."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_")

    inventory: Path = REPO_ROOT / "inventory.yaml"
    infer_interval_s: float = 300.0          # 0 turns the background enrichment off
    infer_window_s: float = 3600.0


class TopologyState:
    """The inventory the server runs with: parsed, mapped into ingest, loaded into the graph.

    A bad file never takes the server down: the previous inventory (or none) stays in
    force and the problems are reported (/health, POST /graph/reload answers 422).
    """

    errors = InventoryError

    def __init__(self, path: Path, graph: Graph, on_services: Callable[[ServiceMap], None]):
        self.path, self.graph, self.on_services = path, graph, on_services
        self.inventory: Inventory | None = None
        self.problems: list[str] = []
        self.graph_loaded = False

    def reload(self) -> dict[str, int]:
        """Raises InventoryError (nothing changes) or GraphUnavailable (ingest mapping is
        already updated; the graph is loaded on the next reload)."""
        inv = load(self.path)
        self.inventory, self.problems = inv, []
        self.on_services(ServiceMap(inv))
        self.graph_loaded = False
        summary = load_inventory(self.graph, inv)
        self.graph_loaded = True
        return summary

    def start(self) -> None:
        if not Path(self.path).exists():
            self.problems = [f"{self.path}: not found; the server runs without an inventory"]
            return
        try:
            self.reload()
        except InventoryError as exc:
            self.problems = exc.problems
        except GraphUnavailable as exc:
            self.problems = [str(exc)]

    def status(self) -> dict:
        return {"path": str(self.path), "services": len(self.inventory.services) if self.inventory else 0,
                "graph_loaded": self.graph_loaded, "problems": self.problems}
