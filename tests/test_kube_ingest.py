"""Kubernetes topology (issue 20), through the server: records pushed with k8s labels (Loki's
protobuf push as Promtail / Alloy send it, OTLP/HTTP protobuf with `k8s.*` resource
attributes) are stored under the services the cluster's replayed lists make, a pod newer
than the last read included (by its workload attribute, or by its generated name)."""
from __future__ import annotations

import respx
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from retrieval.kube_api import KubeSettings
from tests import test_kubernetes
from tests.conftest import make_settings
from tests.test_kubernetes import INVENTORY, cluster
from tests.test_loki_metrics import NS, pb_push

kubeconfig = test_kubernetes.kubeconfig          # the fixture


def otlp(resource: dict[str, str], lines: list[str]) -> bytes:
    request = ExportLogsServiceRequest()
    logs = request.resource_logs.add()
    logs.resource.attributes.extend(KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in resource.items())
    scope = logs.scope_logs.add()
    for i, line in enumerate(lines):
        record = scope.log_records.add()
        record.time_unix_nano, record.severity_number = NS + 100 + i, 17
        record.body.string_value = line
    return request.SerializeToString()


def test_k8s_labelled_records_map_to_the_clusters_services(db_urls, db, kubeconfig, tmp_path):
    import server

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    settings = make_settings(db_urls, inventory, k8s=KubeSettings(kubeconfig=kubeconfig, refresh_s=0, watch=False))
    with respx.mock(assert_all_called=False) as router:
        routes = cluster(router)
        app = server.create_app(settings)
        with TestClient(app) as c:
            try:
                assert c.get("/health").json()["dependencies"]["kubernetes"]["status"] == "ok"
                assert routes["pods"].called
                loki = pb_push([
                    ('{namespace="shop", pod="web-7f9c6b5d4-h8k2r", container="nginx", job="shop/web"}',
                     [(NS, "upstream timed out (110: Connection timed out) while reading response header")]),
                    ('{k8s_namespace_name="staging", k8s_pod_name="web-84c6f7d9b-q7w4e", service_name="nginx"}',
                     [(NS + 1, "GET /healthz 200")]),
                    ('{namespace="kube-system", pod="fluent-bit-m4n8q", container="fluent-bit"}',
                     [(NS + 2, "[error] [output:loki:loki.0] HTTP status=429")]),
                    ('{namespace="shop", pod="checkout-6d8f7c9b5-x2z9q", container="app"}',   # newer than the read
                     [(NS + 3, "payment gateway answered 502")]),
                    ('{namespace="shop", pod="unrelated-thing", container="sidecar"}', [(NS + 4, "hello")])])
                answer = c.post("/loki/api/v1/push", content=loki, headers={"Content-Type": "application/x-protobuf"})
                assert answer.status_code == 204, answer.text
                sent = c.post("/v1/logs", headers={"Content-Type": "application/x-protobuf"}, content=otlp(
                    {"service.name": "pg", "k8s.namespace.name": "shop", "k8s.pod.name": "postgres-0",
                     "k8s.statefulset.name": "postgres", "k8s.node.name": "worker-2"},
                    ["could not extend file: No space left on device"]) + otlp(
                    {"service.name": "checkout-svc", "k8s.namespace.name": "shop",
                     "k8s.deployment.name": "checkout", "k8s.pod.name": "checkout-6d8f7c9b5-n3w4p"},
                    ["order 1881 failed: upstream 503"]))
                assert sent.status_code == 200, sent.text
            finally:
                app.state.graph.drop()
    rows = db.fetchall("SELECT service, message FROM log_events ORDER BY ts")
    assert [r[0] for r in rows] == ["shop/web", "staging/web", "fluent-bit", "checkout", "sidecar", "orders-db",
                                    "checkout"], rows
    assert rows[4][1] == "hello"                          # names no workload: its own name, counted as unmapped
