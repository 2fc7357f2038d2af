"""Kubernetes topology (issue 20): every list is watched, not only pods. Namespaces, nodes,
services, deployments, replicasets, statefulsets and daemonsets each have a watch from
their own list's resourceVersion (newline-delimited events as the API server streams
them: ADDED, MODIFIED, DELETED, BOOKMARK, ERROR); a 410 Gone (an ERROR event with code 410,
or the HTTP status) lists that one list again; a burst of events is one write."""
from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
import respx

from db import graph as cypher
from db import graph_k8s
from ingest.inventory import parse
from retrieval.kube_api import KubeError, KubeSettings
from retrieval.kubernetes import KubeState
from retrieval.topology import TopologyState, load_inventory
from tests import test_kubernetes
from tests.test_kubernetes import API, INVENTORY, cluster, replay

kubeconfig = test_kubernetes.kubeconfig          # the fixture

KINDS = {"namespaces": ("Namespace", "v1"), "nodes": ("Node", "v1"), "services": ("Service", "v1"),
         "pods": ("Pod", "v1"), "deployments": ("Deployment", "apps/v1"), "replicasets": ("ReplicaSet", "apps/v1"),
         "statefulsets": ("StatefulSet", "apps/v1"), "daemonsets": ("DaemonSet", "apps/v1")}
PATHS = {"namespaces": "/api/v1/namespaces", "nodes": "/api/v1/nodes", "services": "/api/v1/services",
         "pods": "/api/v1/pods", "deployments": "/apis/apps/v1/deployments",
         "replicasets": "/apis/apps/v1/replicasets", "statefulsets": "/apis/apps/v1/statefulsets",
         "daemonsets": "/apis/apps/v1/daemonsets"}


def item(name: str, namespace: str | None, metaname: str) -> dict:
    lists = [replay("pods-1"), replay("pods-2")] if name == "pods" else [replay(name)]
    for body in lists:
        for obj in body["items"]:
            if obj["metadata"]["name"] == metaname and obj["metadata"].get("namespace") == namespace:
                return copy.deepcopy(obj)
    raise KeyError(metaname)


def event(kind: str, name: str, obj: dict, version: str) -> dict:
    """A watch event as the API server writes it: the object carries its kind and apiVersion."""
    obj = {"kind": KINDS[name][0], "apiVersion": KINDS[name][1], **copy.deepcopy(obj)}
    obj["metadata"]["resourceVersion"] = version
    return {"type": kind, "object": obj}


def bookmark(name: str, version: str) -> dict:
    return {"type": "BOOKMARK", "object": {"kind": KINDS[name][0], "apiVersion": KINDS[name][1],
                                           "metadata": {"resourceVersion": version,
                                                        "annotations": {"k8s.io/initial-events-end": "true"}}}}


def stream(*events: dict) -> httpx.Response:
    body = "".join(json.dumps(e) + "\n" for e in events)
    return httpx.Response(200, content=body.encode(), headers={"Content-Type": "application/json",
                                                               "Transfer-Encoding": "chunked"})


def watch(state: KubeState, name: str, *events: dict, relist: dict | None = None) -> respx.Route:
    """Run one watch of list `name` against a replayed stream; returns the watch route."""
    with respx.mock(assert_all_called=False) as router:
        route = router.get(f"{API}{PATHS[name]}", params={"watch": "1"}).mock(return_value=stream(*events))
        if relist is not None:
            router.get(f"{API}{PATHS[name]}").mock(return_value=httpx.Response(200, json=relist))
        state.watch_once(name)
    return route


@pytest.fixture
def state(graph, kubeconfig):
    inventory = parse(INVENTORY)
    load_inventory(graph, inventory)
    maps = []
    topology = TopologyState(Path("/nonexistent"), graph, maps.append)
    topology._use(inventory, "test", None)
    kube = KubeState(KubeSettings(kubeconfig=kubeconfig, watch_debounce_s=0.05), graph, topology)
    kube.maps = maps
    with respx.mock() as router:
        cluster(router)
        assert kube.refresh()["status"] == "ok"
    yield kube
    kube.close()


def services(graph) -> dict[str, dict]:
    return {s["name"]: s for s in cypher.services(graph)}


def candidates(graph) -> list[tuple[str, str]]:
    return [(e["source"], e["target"]) for e in graph_k8s.k8s_edges(graph) if e["type"] == "DEPENDS_ON"]


def test_every_list_is_watched_from_its_own_version(state, graph):
    before = services(graph)
    assert state.resource_versions["namespaces"] == "918274" and state.resource_versions["nodes"] == "918273"

    # nodes: one joins, the control plane leaves (its host goes; coredns, scheduled there, has none now)
    node = item("nodes", None, "worker-1")
    node["metadata"]["name"], node["metadata"]["labels"]["kubernetes.io/hostname"] = "worker-3", "worker-3"
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "10.20.0.23"},
                                   {"type": "Hostname", "address": "worker-3"}]
    route = watch(state, "nodes", event("ADDED", "nodes", node, "918400"),
                  event("DELETED", "nodes", item("nodes", None, "cp-1"), "918401"), bookmark("nodes", "918450"))
    sent = route.calls[0].request.url.params
    assert (sent["resourceVersion"], sent["allowWatchBookmarks"]) == ("918273", "true")
    hosts = {n["name"]: n for n in graph_k8s.k8s_nodes(graph) if n["label"] == "Host"}
    assert set(hosts) == {"worker-1", "worker-3", "storage-2"} and hosts["worker-3"]["kind"] == "node"
    assert "cp-1" not in {h for s in services(graph).values() for h in s["hosts"]}
    assert services(graph)["coredns"]["hosts"] == [] and state.resource_versions["nodes"] == "918450"

    # deployments: web in shop now names postgres (the inventory's orders-db, by its alias) instead of checkout
    web = item("deployments", "shop", "web")
    web["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "DATABASE_URL",
                                                                "value": "postgres://postgres:5432/shop"}]
    web["metadata"]["generation"] += 1
    route = watch(state, "deployments", event("MODIFIED", "deployments", web, "918410"))
    assert route.calls[0].request.url.params["resourceVersion"] == "918275"
    assert candidates(graph) == [("shop/web", "checkout"), ("shop/web", "orders-db")]   # its old pod still runs
    watch(state, "pods", event("DELETED", "pods", item("pods", "shop", "web-7f9c6b5d4-h8k2r"), "918411"))
    assert candidates(graph) == [("shop/web", "orders-db")]          # the cluster's old candidate is gone

    # services: the postgres Service goes, and with it the candidate that named it
    watch(state, "services", event("DELETED", "services", item("services", "shop", "postgres"), "918420"))
    assert candidates(graph) == []
    assert cypher.upstream(graph, "shop/web") == []
    assert ("orders-db", 1) in cypher.upstream(graph, "checkout")     # the file's dependency is untouched

    # statefulsets and daemonsets: new workloads are services at once, before any pod of theirs runs
    redis = item("statefulsets", "shop", "postgres")
    redis["metadata"]["name"] = "redis"
    redis["spec"]["template"]["metadata"]["labels"] = {"app": "redis"}
    exporter = item("daemonsets", "kube-system", "fluent-bit")
    exporter["metadata"]["name"] = "node-exporter"
    watch(state, "statefulsets", event("ADDED", "statefulsets", redis, "918430"))
    watch(state, "daemonsets", event("ADDED", "daemonsets", exporter, "918431"))
    now = services(graph)
    assert now["redis"]["type"] == "statefulset" and now["node-exporter"]["type"] == "daemonset"

    # namespaces: default is deleted; what lived there (the bare debug-shell pod) goes before its own events
    assert "debug-shell" in before
    watch(state, "namespaces", event("DELETED", "namespaces", item("namespaces", None, "default"), "918440"))
    assert "debug-shell" not in services(graph) and "checkout" in services(graph)
    terminating = item("namespaces", None, "kube-system")
    terminating["status"]["phase"] = "Terminating"
    watch(state, "namespaces", event("MODIFIED", "namespaces", terminating, "918441"))
    assert {"coredns", "fluent-bit", "node-exporter"}.isdisjoint(services(graph))
    assert state.status()["watch_events_by_list"] == {"nodes": 2, "deployments": 1, "pods": 1, "services": 1,
                                                      "statefulsets": 1, "daemonsets": 1, "namespaces": 2}


def test_a_rollout_maps_new_pods_even_before_their_replicaset_is_seen(state, graph):
    # a pod of checkout's new ReplicaSet arrives on the pod watch before the ReplicaSet does
    pod = item("pods", "shop", "checkout-6d8f7c9b5-p2m9z")
    pod["metadata"]["name"] = "checkout-7a1b2c3d4-k9x8z"
    pod["metadata"]["labels"]["pod-template-hash"] = "7a1b2c3d4"
    pod["metadata"]["ownerReferences"][0]["name"] = "checkout-7a1b2c3d4"
    pod["spec"]["nodeName"] = "cp-1"
    watch(state, "pods", event("ADDED", "pods", pod, "918500"))
    assert "checkout-7a1b2c3d4" not in services(graph) and "cp-1" in services(graph)["checkout"]["hosts"]
    assert state.topology.kube.pods[("shop", "checkout-7a1b2c3d4-k9x8z")] == "checkout"
    mapped, pod_name = state.maps[-1], "checkout-7a1b2c3d4-k9x8z"
    assert mapped.resolve("unknown", "unknown", {"labels": {"namespace": "shop", "pod": pod_name}}) == "checkout"
    assert mapped.resolve("unknown", "unknown", {"resource": {"k8s.namespace.name": "shop",
                                                              "k8s.pod.name": pod_name}}) == "checkout"
    rs = item("replicasets", "shop", "checkout-6d8f7c9b5")
    rs["metadata"]["name"] = "checkout-7a1b2c3d4"
    watch(state, "replicasets", event("ADDED", "replicasets", rs, "918501"))
    assert state.topology.kube.pods[("shop", "checkout-7a1b2c3d4-k9x8z")] == "checkout"


def test_410_gone_lists_that_list_again_and_other_errors_keep_the_graph(state, graph):
    before = graph_k8s.k8s_edges(graph), graph_k8s.k8s_nodes(graph)
    # an ERROR event with code 500: said, nothing changes
    failure = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                           "message": "etcdserver: request timed out", "reason": "InternalError",
                                           "code": 500}}
    with pytest.raises(KubeError, match="etcdserver: request timed out"):
        watch(state, "services", failure)
    assert (graph_k8s.k8s_edges(graph), graph_k8s.k8s_nodes(graph)) == before

    # 410 as the HTTP status of the watch request: the node list is read again, alone
    nodes = replay("nodes")
    nodes["metadata"]["resourceVersion"] = "920000"
    nodes["items"] = [n for n in nodes["items"] if n["metadata"]["name"] != "cp-1"]
    gone = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version: 918273 (919990)", "reason": "Expired", "code": 410}
    with respx.mock(assert_all_called=True) as router:
        router.get(f"{API}/api/v1/nodes", params={"watch": "1"}).mock(return_value=httpx.Response(410, json=gone))
        listed = router.get(f"{API}/api/v1/nodes").mock(return_value=httpx.Response(200, json=nodes))
        state.watch_once("nodes")
    assert listed.call_count == 1 and state.resource_versions["nodes"] == "920000"
    assert state.status()["relists"] == {"nodes": 1} and state.status()["error"] is None
    assert "cp-1" not in {n["name"] for n in graph_k8s.k8s_nodes(graph)}

    # and as an ERROR event in the stream, on the namespace list
    namespaces = replay("namespaces")
    namespaces["metadata"]["resourceVersion"] = "920010"
    expired = {"type": "ERROR", "object": {**gone, "message": "too old resource version: 918274 (920005)"}}
    route = watch(state, "namespaces", expired, relist=namespaces)
    assert route.call_count == 1 and state.resource_versions["namespaces"] == "920010"
    assert state.status()["relists"] == {"nodes": 1, "namespaces": 1}


def test_a_burst_of_events_is_written_once_by_the_writer(state, graph, monkeypatch):
    writes = []
    real = graph_k8s.sync_k8s

    def counted(*args, **kwargs):
        writes.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(graph_k8s, "sync_k8s", counted)
    if True:
        names = []
        for i in range(5):
            pod = item("pods", "shop", "checkout-6d8f7c9b5-p2m9z")
            pod["metadata"]["name"] = f"checkout-6d8f7c9b5-burst{i}"
            names.append(pod["metadata"]["name"])
            assert state.apply_event("pods", event("ADDED", "pods", pod, f"9186{i:02d}"))
        assert not writes and ("shop", names[0]) not in state.topology.kube.pods     # applied, not yet written
        writer = threading.Thread(target=state._write_loop, daemon=True)
        writer.start()
        deadline = time.monotonic() + 10
        while not writes and time.monotonic() < deadline:
            state._stop.wait(0.02)
        state._stop.set()
        writer.join(5)
    assert len(writes) == 1 and all(("shop", n) in state.topology.kube.pods for n in names)
    assert state.resource_versions["pods"] == "918604"


def test_the_watcher_threads_follow_every_list_and_the_writer_writes(graph, kubeconfig):
    """start(): a thread per list (each asks from its own version) and the writer; a node
    added on the node watch reaches the graph without anyone calling flush()."""
    inventory = parse(INVENTORY)
    load_inventory(graph, inventory)
    topology = TopologyState(Path("/nonexistent"), graph, lambda services: None)
    topology._use(inventory, "test", None)
    kube = KubeState(KubeSettings(kubeconfig=kubeconfig, watch_debounce_s=0.05, watch_s=5), graph, topology)
    node = item("nodes", None, "worker-1")
    node["metadata"]["name"] = "worker-9"
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "10.20.0.29"}]
    with respx.mock(assert_all_called=False) as router:
        watches = {name: router.get(f"{API}{path}", params={"watch": "1"}).mock(
            return_value=stream(*([event("ADDED", "nodes", node, "918900")] if name == "nodes" else []),
                                bookmark(name, "918999"))) for name, path in PATHS.items()}
        cluster(router)
        kube.refresh()
        kube.start()
        try:
            deadline = time.monotonic() + 15
            while "worker-9" not in {n["name"] for n in graph_k8s.k8s_nodes(graph)} and time.monotonic() < deadline:
                kube._stop.wait(0.05)
            assert "worker-9" in {n["name"] for n in graph_k8s.k8s_nodes(graph)}
            assert kube.status()["watch"] and all(route.called for route in watches.values())
            first = {name: route.calls[0].request.url.params["resourceVersion"] for name, route in watches.items()}
            assert first == {name: replay("pods-1" if name == "pods" else name)["metadata"]["resourceVersion"]
                             for name in PATHS}
        finally:
            kube.close()
            for thread in kube._watchers:
                thread.join(5)
    assert not any(thread.is_alive() for thread in kube._watchers)


def test_an_expired_continue_token_starts_that_list_over(kubeconfig):
    """The API server answers 410 Gone to a `continue` token older than its compaction: the
    paged list starts again from the first page, once (a second 410 is an error)."""
    from retrieval.kube_api import KubeClient, KubeGone, from_kubeconfig

    client = KubeClient(from_kubeconfig(kubeconfig))
    expired = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Expired",
               "message": "The provided continue parameter is too old to display a consistent list result. You can "
                          "start a new list without the continue parameter.", "code": 410}
    answers = iter([httpx.Response(200, json=replay("pods-1")), httpx.Response(410, json=expired),
                    httpx.Response(200, json=replay("pods-1")), httpx.Response(200, json=replay("pods-2"))])
    with respx.mock() as router:
        route = router.get(f"{API}/api/v1/pods").mock(side_effect=lambda request: next(answers))
        items, version = client.list("/api/v1/pods")
    assert len(items) == 13 and version == "918276" and route.call_count == 4
    assert [c.request.url.params.get("continue") is None for c in route.calls] == [True, False, True, False]
    with respx.mock() as router:
        router.get(f"{API}/api/v1/pods").mock(side_effect=[httpx.Response(200, json=replay("pods-1")),
                                                           httpx.Response(410, json=expired),
                                                           httpx.Response(200, json=replay("pods-1")),
                                                           httpx.Response(410, json=expired)])
        with pytest.raises(KubeGone, match="continue parameter is too old"):
            client.list("/api/v1/pods")
    client.close()
