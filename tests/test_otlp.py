"""OTLP/HTTP logs: the OpenTelemetry SDK's own exporter (protobuf) against a live server, and
a JSON body with hex ids, integer enums and string int64s; partial success on rejects."""
from __future__ import annotations

import logging

from evals.live import LiveServer, wait_until


def test_the_sdk_exporter_ships_logs_with_service_host_level_and_trace(db_urls, db, tmp_path):
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    server = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    try:
        provider = LoggerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "shop-1"}))
        provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs")))
        logger = logging.getLogger("otlp-test")
        logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
        logger.setLevel(logging.INFO)
        logger.error("payment %s declined", 77)
        logger.info("cart %s saved", 12)
        provider.shutdown()
        wait_until(lambda: db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 2, timeout_s=20, what="otlp lines")
        rows = db.fetchall("SELECT host, service, level, message, source FROM log_events ORDER BY id")
        assert rows == [("shop-1", "checkout", "error", "payment 77 declined", "otlp"),
                        ("shop-1", "checkout", "info", "cart 12 saved", "otlp")]
        assert SeverityNumber.ERROR.value == 17
    finally:
        server.stop()


def test_json_body_and_partial_success(client, db):
    body = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "payments"}},
        {"key": "host.name", "value": {"stringValue": "pay-1"}}]},
        "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [
            {"timeUnixNano": "1768903200000000000", "severityNumber": 17, "severityText": "ERROR",
             "body": {"stringValue": "charge failed: upstream timed out"},
             "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
             "attributes": [{"key": "retry", "value": {"intValue": "3"}}]},
            {"timeUnixNano": "0", "observedTimeUnixNano": "0", "severityNumber": 9,
             "body": {"stringValue": "no timestamp at all"}}]}]}]}
    response = client.post("/v1/logs", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1" and "timestamp" in partial["errorMessage"]
    row = db.fetchone("SELECT host, service, level, trace_id, span_id, JSON_VALUE(meta_json, '$.attributes.retry') "
                      "FROM log_events")
    assert row == ("pay-1", "payments", "error", "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "3")
    assert client.post("/v1/logs", json=body).json()["partialSuccess"]["rejectedLogRecords"] == "1"   # dedup
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 1
    bad = client.post("/v1/logs", content=b"\x0a\xff\xff", headers={"Content-Type": "application/x-protobuf"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_otlp"


def test_a_kubernetes_resource_without_host_name_is_on_its_node(client, db):
    """A collector's k8sattributes processor labels a pod's records with `k8s.node.name`,
    not `host.name`: the node is the record's host; `host.name` wins when both are set."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    request = ExportLogsServiceRequest()
    for i, resource in enumerate([
            {"service.name": "pg", "k8s.pod.name": "postgres-0", "k8s.node.name": "worker-2", "host.id": "3f9a1c"},
            {"service.name": "web", "k8s.node.name": "worker-3", "host.name": "web-vm"}]):
        logs = request.resource_logs.add()
        logs.resource.attributes.extend(KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in resource.items())
        log = logs.scope_logs.add().log_records.add()
        log.time_unix_nano, log.severity_number = 1768903200000000000 + i, 17
        log.body.string_value = f"request {i} failed: upstream 503"
    sent = client.post("/v1/logs", content=request.SerializeToString(),
                       headers={"Content-Type": "application/x-protobuf"})
    assert sent.status_code == 200, sent.text
    assert db.fetchall("SELECT service, host FROM log_events ORDER BY ts") == [("pg", "worker-2"), ("web", "web-vm")]
