"""Kubernetes topology (issue 20): edges say they came from the cluster, the file wins where
both speak, and only the cluster's own edges ever leave with the cluster.

On a real FalkorDB: the inventory's graph before the cluster is read, then with it, then
with a cluster that names nothing any more, must be the very same graph (every node and edge
property); an inventory change (POST /graph/reload's path, TopologyState.reload) takes
effect on the cluster's part at once, not at the next read."""
from __future__ import annotations

import httpx
import respx

from db import graph as cypher
from db import graph_k8s
from retrieval.kube_api import KubeSettings
from retrieval.kubernetes import KubeState
from retrieval.topology import TopologyState
from tests import test_kubernetes
from tests.test_kubernetes import API, INVENTORY, cluster

kubeconfig = test_kubernetes.kubeconfig          # the fixture

LOGGED = {"source": "orders-db", "target": "checkout", "confidence": 0.8, "evidence": [7],
          "last_seen": "2026-12-02T10:00:00", "reason": "orders-db logged checkout's address"}


def dump(graph) -> tuple[list, list]:
    """Every Service/Host node and every edge between them, with all their properties."""
    nodes = graph.read("MATCH (n) WHERE n:Service OR n:Host RETURN labels(n)[0], n.name, properties(n) "
                       "ORDER BY labels(n)[0], n.name")
    edges = graph.read("MATCH (a)-[r]->(b) WHERE (a:Service OR a:Host) AND (b:Service OR b:Host) "
                       "RETURN a.name, type(r), b.name, properties(r) ORDER BY a.name, type(r), b.name")
    return ([(lbl, n, dict(sorted(p.items()))) for lbl, n, p in nodes],
            sorted([(a, t, b, dict(sorted(p.items()))) for a, t, b, p in edges], key=repr))


def empty_cluster(router: respx.Router) -> None:
    for name in ("namespaces", "nodes", "pods", "services", "deployments", "replicasets", "statefulsets",
                 "daemonsets"):
        path = f"/api/v1/{name}" if name in ("namespaces", "nodes", "pods", "services") else f"/apis/apps/v1/{name}"
        body = {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "930000"}, "items": []}
        router.get(f"{API}{path}").mock(return_value=httpx.Response(200, json=body))


def edges(graph, service: str) -> dict[tuple[str, str, str], str]:
    return {(e["source"], e["type"], e["target"]): e["origin"] for e in cypher.neighborhood(graph, service)["edges"]}


def test_the_cluster_leaves_the_files_graph_exactly_as_it_was(graph, kubeconfig, tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    topology = TopologyState(path, graph, lambda services: None)
    topology.reload()
    cypher.replace_inferred(graph, [LOGGED])          # an edge learned from logs, beside the file's
    state = KubeState(KubeSettings(kubeconfig=kubeconfig), graph, topology)
    before = dump(graph)
    with respx.mock() as router:
        cluster(router)
        assert state.refresh()["status"] == "ok"
    # each edge says where it came from
    seen = edges(graph, "checkout")
    assert seen[("checkout", "DEPENDS_ON", "orders-db")] == "inventory"
    assert seen[("orders-db", "DEPENDS_ON", "checkout")] == "logs"
    assert seen[("checkout", "RUNS_ON", "worker-1")] == "cluster" and seen[("shop/web", "DEPENDS_ON", "checkout")] == \
        "cluster"
    candidate = next(e for e in cypher.neighborhood(graph, "checkout")["edges"] if e["source"] == "shop/web")
    assert candidate["origin"] == "cluster" and candidate["candidate"] and candidate["confidence"] == 0.6
    assert not candidate["owned"] and not candidate["inferred"]
    assert edges(graph, "orders-db")[("orders-db", "RUNS_ON", "storage-2")] == "inventory"   # placed by the file
    assert dump(graph) != before

    # the cluster names nothing any more: its nodes and edges go, the file's and the logs' stay as they were
    with respx.mock() as router:
        empty_cluster(router)
        assert state.refresh()["status"] == "ok"
    assert graph_k8s.k8s_edges(graph) == [] and graph_k8s.k8s_nodes(graph) == []
    assert dump(graph) == before


def _file_and_cluster(graph, kubeconfig, tmp_path):
    """The inventory file loaded, then the replayed cluster read once: (path, topology, state)."""
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    topology = TopologyState(path, graph, lambda services: None)
    topology.reload()
    state = KubeState(KubeSettings(kubeconfig=kubeconfig), graph, topology)
    with respx.mock() as router:
        cluster(router)
        state.refresh()
    return path, topology, state


def test_an_inventory_change_wins_over_the_cluster_at_once(graph, kubeconfig, tmp_path):
    path, topology, state = _file_and_cluster(graph, kubeconfig, tmp_path)
    assert {s["name"]: s["hosts"] for s in cypher.services(graph)}["checkout"] == ["storage-2", "worker-1"]
    assert ("shop/web", "checkout") in {(e["source"], e["target"]) for e in graph_k8s.k8s_edges(graph)}

    # the file now places checkout and names shop's web, with its dependency: no read of the cluster happens
    path.write_text(INVENTORY.replace("  checkout:  {type: api, depends_on: [orders-db]}",
                                      "  checkout:  {type: api, hosts: [storage-2], depends_on: [orders-db]}\n"
                                      "  web:       {type: frontend, aliases: [shop/web], depends_on: [checkout]}"))
    with respx.mock(assert_all_called=False) as router:
        routes = cluster(router)
        topology.reload()
    assert not any(route.called for route in routes.values())
    services = {s["name"]: s for s in cypher.services(graph)}
    assert services["checkout"]["hosts"] == ["storage-2"]                 # the file's placement alone
    assert edges(graph, "checkout")[("checkout", "RUNS_ON", "storage-2")] == "inventory"
    assert "shop/web" not in services and services["web"]["owned"] and services["web"]["type"] == "frontend"
    assert services["web"]["hosts"] == ["worker-1"]                       # not placed by the file: the cluster's
    assert edges(graph, "web")[("web", "DEPENDS_ON", "checkout")] == "inventory"
    assert [e for e in graph_k8s.k8s_edges(graph) if e["type"] == "DEPENDS_ON"] == []   # the candidate gave way
    assert state.topology.kube.pods[("shop", "web-7f9c6b5d4-h8k2r")] == "web"

    # the file drops orders-db: the cluster's StatefulSet is a service of its own again (its own name)
    path.write_text(INVENTORY.replace("  orders-db: {type: database, hosts: [storage-2], aliases: [shop/postgres], "
                                      "ports: [5432]}\n", "").replace("depends_on: [orders-db]", "depends_on: []"))
    topology.reload()
    services = {s["name"]: s for s in cypher.services(graph)}
    assert "orders-db" not in services and services["postgres"]["type"] == "statefulset"
    assert services["postgres"]["hosts"] == ["storage-2"] and not services["postgres"]["owned"]
    assert ("checkout", "postgres") in {(e["source"], e["target"]) for e in graph_k8s.k8s_edges(graph)}   # env names it


def test_a_node_both_name_survives_the_file_dropping_it(graph, kubeconfig, tmp_path):
    """A service the file names and the cluster runs, then the file forgets it: the node stays
    as the cluster's (its file-only properties cleared), with the cluster's edges."""
    path, topology, state = _file_and_cluster(graph, kubeconfig, tmp_path)
    cypher.replace_inferred(graph, [LOGGED])          # learned from logs: must outlive the file's say
    path.write_text(INVENTORY.replace("  checkout:  {type: api, depends_on: [orders-db]}\n", ""))
    topology.reload()
    services = {s["name"]: s for s in cypher.services(graph)}
    assert services["checkout"]["owned"] is False and services["checkout"]["type"] == "deployment"
    assert services["checkout"]["hosts"] == ["storage-2", "worker-1"]
    node = graph.read("MATCH (s:Service {name: 'checkout'}) RETURN properties(s)")[0][0]
    assert node["k8s"] is True and "aliases" not in node and "owned" not in node
    kinds = edges(graph, "checkout")
    assert kinds[("checkout", "DEPENDS_ON", "orders-db")] == "cluster"   # the file's gone, the cluster's candidate came
    assert kinds[("shop/web", "DEPENDS_ON", "checkout")] == "cluster"
    assert kinds[("orders-db", "DEPENDS_ON", "checkout")] == "logs"       # the node was kept, not made again
