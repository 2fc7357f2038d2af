"""Kubernetes topology (issue 20): the API server's lists (tests/k8s/*.json, in the shape
`GET /api/v1/nodes`, `/api/v1/pods` (two pages), `/apis/apps/v1/...` and `/api/v1/services`
answer) become hosts, services, RUNS_ON and DEPENDS_ON-candidate edges beside the
inventory (the file wins), log records with k8s labels map to those services, and a
failing API (401, 403, a timeout) keeps the last good topology and says why in /health."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import certifi
import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from db import graph as cypher
from db import graph_k8s
from ingest import loki, otlp
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from retrieval.kube_api import KubeError, KubeSettings, credentials, from_kubeconfig
from retrieval.kubernetes import KubeState
from retrieval.topology import TopologyState, load_inventory
from tests.conftest import make_settings

REPLAYS = Path(__file__).parent / "k8s"
API = "https://k8s.test:6443"
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRldm1lc2gifQ.replay.signature"
INVENTORY = """
hosts:
  storage-2: {address: 10.20.0.22, role: storage}
services:
  orders-db: {type: database, hosts: [storage-2], aliases: [shop/postgres], ports: [5432]}
  checkout:  {type: api, depends_on: [orders-db]}
"""


def replay(name: str) -> dict:
    return json.loads((REPLAYS / f"{name}.json").read_text())


def _ca_pem() -> str:
    """A real CA certificate (the first of certifi's bundle) for certificate-authority-data."""
    text = Path(certifi.where()).read_text()
    return re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", text, re.S).group(0)


@pytest.fixture
def kubeconfig(tmp_path) -> Path:
    path = tmp_path / "config"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: {API}
    certificate-authority-data: {base64.b64encode(_ca_pem().encode()).decode()}
contexts:
- name: devmesh@lab
  context: {{cluster: lab, user: devmesh, namespace: default}}
current-context: devmesh@lab
preferences: {{}}
users:
- name: devmesh
  user:
    token: {TOKEN}
""")
    return path


def cluster(router: respx.Router, pods=None) -> dict:
    """Routes answering every list as the API server does; pods in two pages (limit/continue)."""
    pages = [replay("pods-1"), replay("pods-2")] if pods is None else [pods]
    routes = {}
    for name, path in (("namespaces", "/api/v1/namespaces"), ("nodes", "/api/v1/nodes"),
                       ("services", "/api/v1/services"),
                       ("deployments", "/apis/apps/v1/deployments"), ("replicasets", "/apis/apps/v1/replicasets"),
                       ("statefulsets", "/apis/apps/v1/statefulsets"), ("daemonsets", "/apis/apps/v1/daemonsets")):
        routes[name] = router.get(f"{API}{path}").mock(return_value=httpx.Response(200, json=replay(name)))

    def pod_pages(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("continue")
        if len(pages) == 1 or token is None:
            return httpx.Response(200, json=pages[0])
        assert token == pages[0]["metadata"]["continue"]
        return httpx.Response(200, json=pages[1])
    routes["pods"] = router.get(f"{API}/api/v1/pods").mock(side_effect=pod_pages)
    return routes


def test_a_cluster_becomes_hosts_services_and_edges_beside_the_inventory(db, graph, kubeconfig):
    inventory = parse(INVENTORY)
    load_inventory(graph, inventory)
    ingestor = Ingestor(db)
    topology = TopologyState(Path("/nonexistent"), graph, lambda services: setattr(ingestor, "services", services))
    topology._use(inventory, "test", None)
    state = KubeState(KubeSettings(kubeconfig=kubeconfig), graph, topology)
    assert state.enabled and state.status()["status"] == "pending"
    with respx.mock(assert_all_called=True) as router:
        routes = cluster(router)
        status = state.refresh()
    assert status["status"] == "ok" and status["error"] is None, status
    assert routes["nodes"].calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"
    assert routes["pods"].calls[0].request.url.params["limit"] == "500" and len(routes["pods"].calls) == 2
    assert status["resource_versions"]["pods"] == "918276"
    assert {k: status[k] for k in ("namespaces", "nodes", "workloads", "pods")} == \
        {"namespaces": 4, "nodes": 3, "workloads": 7, "pods": 12}        # the Job's and finished pods left out

    services = {s["name"]: s for s in cypher.services(graph)}
    # the file wins: its names, types and hosts; the cluster's workloads beside them
    assert services["orders-db"] == {"name": "orders-db", "type": "database", "hosts": ["storage-2"], "owned": True}
    assert services["checkout"] == {"name": "checkout", "type": "api", "hosts": ["storage-2", "worker-1"], "owned": True}
    assert services["coredns"]["type"] == "deployment" and services["coredns"]["hosts"] == ["cp-1"]
    assert services["fluent-bit"]["hosts"] == ["cp-1", "storage-2", "worker-1"]          # a DaemonSet on every node
    assert services["shop/web"]["hosts"] == ["worker-1"] and services["staging/web"]["hosts"] == ["storage-2"]
    assert "postgres" not in services and "db-migrate-29123456" not in services and "web" not in services
    hosts = {n["name"]: n for n in graph_k8s.k8s_nodes(graph) if n["label"] == "Host"}
    assert hosts["storage-2"]["owned"] and hosts["storage-2"]["kind"] == "storage"     # worker-2 by its InternalIP
    assert hosts["cp-1"]["kind"] == "control-plane" and set(hosts) == {"cp-1", "worker-1", "storage-2"}
    candidates = [e for e in graph_k8s.k8s_edges(graph) if e["type"] == "DEPENDS_ON"]
    assert [(e["source"], e["target"]) for e in candidates] == [("shop/web", "checkout")]   # checkout->db: owned
    assert "CHECKOUT_URL" in candidates[0]["reason"] and candidates[0]["confidence"] == 0.6
    assert ("shop/web", 1) in cypher.downstream(graph, "checkout")          # traversals see the candidate

    # log records with k8s labels map to those services (the pod first, then the workload)
    push = {"streams": [
        {"stream": {"namespace": "shop", "pod": "web-7f9c6b5d4-h8k2r", "container": "nginx"},
         "values": [["1764702000000000000", "upstream timed out (110: Connection timed out) while reading"]]},
        {"stream": {"namespace": "staging", "pod": "web-84c6f7d9b-q7w4e", "container": "nginx"},
         "values": [["1764702000000000001", "GET /healthz 200"]]},
        {"stream": {"namespace": "shop", "app": "checkout", "pod": "checkout-6d8f7c9b5-newpod"},
         "values": [["1764702000000000002", "payment gateway answered 502"]]}]}
    records, problems = loki.from_json(push, loki.LokiSettings())
    resource = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "pg"}},
        {"key": "k8s.namespace.name", "value": {"stringValue": "shop"}},
        {"key": "k8s.pod.name", "value": {"stringValue": "postgres-0"}},
        {"key": "k8s.statefulset.name", "value": {"stringValue": "postgres"}}]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": "1764702000000000003", "severityNumber": 17,
                                       "body": {"stringValue": "could not extend file: No space left on device"}}]}]}]}
    otlp_records, otlp_problems = otlp.from_json(resource)
    result = ingestor.ingest(records + otlp_records)
    assert not problems and not otlp_problems and result.accepted == 4 and result.unmapped == 0
    stored = db.fetchall("SELECT service, JSON_VALUE(meta_json, '$.raw_service') FROM log_events ORDER BY ts")
    assert [tuple(r) for r in stored] == [("shop/web", "nginx"), ("staging/web", "nginx"), ("checkout", None),
                                          ("orders-db", "pg")]

    # the API fails: the last good topology stays (graph and mapping), the error is said
    edges_before, mapping = graph_k8s.k8s_edges(graph), ingestor.services
    for answer, said in ((httpx.Response(401, json={"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                    "status": "Failure", "message": "Unauthorized",
                                                    "reason": "Unauthorized", "code": 401}), ("401 Unauthorized", "expired")),
                         (httpx.Response(403, json={
                             "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": 'nodes is forbidden: User "system:serviceaccount:devmesh:devmesh" cannot list '
                                        'resource "nodes" in API group "" at the cluster scope',
                             "reason": "Forbidden", "details": {"kind": "nodes"}, "code": 403}),
                          ('cannot list resource "nodes"', "ClusterRole")),
                         (httpx.ConnectTimeout("timed out"), ("no answer within 10 s", "reachable"))):
        with respx.mock(assert_all_called=False) as router:
            cluster(router)
            router.get(f"{API}/api/v1/nodes").mock(side_effect=[answer])
            failed = state.refresh()
        assert failed["status"] == "error" and all(w in failed["error"] for w in said), failed["error"]
        assert failed["last_success"] == status["last_success"] and failed["workloads"] == 7
        assert graph_k8s.k8s_edges(graph) == edges_before and ingestor.services is mapping

    # the cluster changes: web scaled to zero in shop, its RUNS_ON and pod mapping go; the rest stays
    pods = replay("pods-1")
    pods["items"] = [p for p in pods["items"] + replay("pods-2")["items"]
                     if p["metadata"]["name"] != "web-7f9c6b5d4-h8k2r"]
    del pods["metadata"]["continue"], pods["metadata"]["remainingItemCount"]
    with respx.mock() as router:
        cluster(router, pods)
        again = state.refresh()
    assert again["status"] == "ok" and again["error"] is None
    services = {s["name"]: s for s in cypher.services(graph)}
    assert services["shop/web"]["hosts"] == [] and services["checkout"]["hosts"] == ["storage-2", "worker-1"]
    assert ("shop", "web-7f9c6b5d4-h8k2r") not in topology.kube.pods and ingestor.services is not mapping

    # the watch on pods: a pod added, one scheduled, one deleted, a bookmark; then 410 Gone -> a full read
    by_name = {p["metadata"]["name"]: p for p in replay("pods-1")["items"] + replay("pods-2")["items"]}

    def event(kind: str, pod: dict, version: str) -> str:
        obj = {"kind": "Pod", "apiVersion": "v1", **json.loads(json.dumps(pod))}
        obj["metadata"]["resourceVersion"] = version
        return json.dumps({"type": kind, "object": obj})
    added = json.loads(json.dumps(by_name["web-7f9c6b5d4-h8k2r"]))
    added["metadata"]["name"], added["spec"]["nodeName"] = "web-7f9c6b5d4-r2d2x", "worker-2"
    scheduled = json.loads(json.dumps(by_name["checkout-6d8f7c9b5-t5v6b"]))
    scheduled["spec"]["nodeName"], scheduled["status"]["phase"] = "worker-2", "Running"
    stream = "\n".join([event("ADDED", added, "918300"), event("MODIFIED", scheduled, "918301"),
                        event("DELETED", by_name["checkout-6d8f7c9b5-4x7kq"], "918302"),
                        json.dumps({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                                   "metadata": {"resourceVersion": "918350"}}})]) + "\n"
    with respx.mock() as router:
        watch = router.get(f"{API}/api/v1/pods", params={"watch": "1"}).mock(
            return_value=httpx.Response(200, content=stream.encode(), headers={"Content-Type": "application/json"}))
        state.watch_once()
    sent = watch.calls[0].request.url.params
    assert (sent["resourceVersion"], sent["allowWatchBookmarks"], sent["timeoutSeconds"]) == ("918276", "true", "300")
    services = {s["name"]: s for s in cypher.services(graph)}
    assert services["shop/web"]["hosts"] == ["storage-2"] and services["checkout"]["hosts"] == ["storage-2"]
    assert state.status()["watch_events"] == 3 and state.resource_versions["pods"] == "918350"
    assert topology.kube.pods[("shop", "web-7f9c6b5d4-r2d2x")] == "shop/web"
    gone = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                        "message": "too old resource version: 918350 (918700)", "reason": "Expired",
                                        "code": 410}}
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{API}/api/v1/pods", params={"watch": "1"}).mock(
            return_value=httpx.Response(200, content=(json.dumps(gone) + "\n").encode()))
        routes = cluster(router)
        state.watch_once()
    assert state.resource_versions["pods"] == "918276" and state.status()["relists"] == {"pods": 1}  # listed again
    assert len(routes["pods"].calls) == 2 and not routes["nodes"].called          # that list alone, both pages
    assert {s["name"]: s for s in cypher.services(graph)}["shop/web"]["hosts"] == ["worker-1"]


def test_credentials_in_cluster_kubeconfig_or_off_and_errors_in_health(db_urls, tmp_path, kubeconfig):
    account = tmp_path / "serviceaccount"
    assert credentials(KubeSettings(serviceaccount_dir=account), environ={}) is None          # off: neither
    account.mkdir()
    (account / "ca.crt").write_text(_ca_pem())
    (account / "token").write_text("first-token\n")
    (account / "namespace").write_text("devmesh")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    creds = credentials(KubeSettings(serviceaccount_dir=account), environ=env)
    assert (creds.server, creds.source, creds.bearer()) == ("https://10.96.0.1:443", "in-cluster", "first-token")
    (account / "token").write_text("rotated-token")
    assert creds.bearer() == "rotated-token"                        # bound tokens rotate: read on each request
    assert credentials(KubeSettings(serviceaccount_dir=account, in_cluster="false"), environ=env) is None
    plugin = tmp_path / "exec-config"
    plugin.write_text(kubeconfig.read_text().replace(f"    token: {TOKEN}", "    exec:\n      command: aws"))
    with pytest.raises(KubeError, match="exec/auth-provider plugin"):
        from_kubeconfig(plugin)
    with pytest.raises(KubeError, match="no context named 'nope'"):
        from_kubeconfig(kubeconfig, "nope")

    import server

    settings = make_settings(db_urls, k8s=KubeSettings(kubeconfig=kubeconfig, refresh_s=0))
    forbidden = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
                 "message": 'pods is forbidden: User "system:serviceaccount:devmesh:devmesh" cannot list resource '
                            '"pods" in API group "" at the cluster scope', "details": {"kind": "pods"}, "code": 403}
    with respx.mock(assert_all_called=False) as router:
        cluster(router)
        router.get(f"{API}/api/v1/pods").mock(return_value=httpx.Response(403, json=forbidden))
        app = server.create_app(settings)
        with TestClient(app) as c:
            health = c.get("/health").json()["dependencies"]["kubernetes"]
            info = c.get("/info").json()["kubernetes"]
            app.state.graph.drop()
    assert health["status"] == "error" and health["source"] == str(kubeconfig) and health["server"] == API
    assert 'cannot list resource "pods"' in health["error"] and "ClusterRole" in health["error"]
    assert info["error"] == health["error"] and info["last_success"] is None
