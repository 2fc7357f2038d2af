"""Loki push (JSON from python-logging-loki, protobuf+snappy as promtail sends it) and our
own /metrics, against the real pipeline and database."""
from __future__ import annotations

import logging
import time

import cramjam
import pytest

from evals.live import LiveServer, wait_until
from ingest.loki import parse_labels


def pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_field(number: int, payload: bytes) -> bytes:
    return pb_varint(number << 3 | 2) + pb_varint(len(payload)) + payload


def pb_push(streams: list[tuple[str, list[tuple[int, str]]]]) -> bytes:
    """A logproto.PushRequest the way promtail builds it, snappy block-compressed."""
    body = b""
    for labels, entries in streams:
        stream = pb_field(1, labels.encode())
        for ns, line in entries:
            ts = pb_varint(1 << 3 | 0) + pb_varint(ns // 1_000_000_000) + pb_varint(2 << 3 | 0) + pb_varint(ns % 1_000_000_000)
            stream += pb_field(2, pb_field(1, ts) + pb_field(2, line.encode()))
        body += pb_field(1, stream)
    return cramjam.snappy.compress_raw(body).read()


NS = 1768903200_000000000


def test_json_push_with_one_bad_stream_keeps_the_good_one(client, db):
    body = {"streams": [
        {"stream": {"job": "api", "host": "web-1", "level": "error"},
         "values": [[str(NS), "upstream timed out"], [str(NS + 1000), "upstream timed out", {"trace_id": "abc"}]]},
        {"stream": {"job": "bad"}, "values": [[NS, "timestamps must be strings"]]}]}
    assert client.post("/loki/api/v1/push", json=body).status_code == 204
    rows = db.fetchall("SELECT host, service, level, source, trace_id FROM log_events ORDER BY id")
    assert rows == [("web-1", "api", "error", "loki", None), ("web-1", "api", "error", "loki", "abc")]
    assert client.post("/loki/api/v1/push", json=body).status_code == 204           # re-sent: deduplicated
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 2
    bad = client.post("/loki/api/v1/push", json={"streams": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_push"
    all_bad = client.post("/loki/api/v1/push", json={"streams": [{"stream": {"a": "b"}, "values": [[1, "x"]]}]})
    assert all_bad.status_code == 400 and "stream 0" in all_bad.json()["error"]["detail"][0]


def test_protobuf_snappy_push_as_promtail_sends_it(client, db):
    body = pb_push([('{job="nginx", instance="edge-1"}', [(NS, "GET / 200"), (NS + 5, "GET /x 404")]),
                    ("not labels", [(NS, "skipped")])])
    response = client.post("/loki/api/v1/push", content=body, headers={"Content-Type": "application/x-protobuf"})
    assert response.status_code == 204, response.text
    rows = db.fetchall("SELECT host, service, message, ts FROM log_events ORDER BY id")
    assert [(h, s, m) for h, s, m, _ in rows] == [("edge-1", "nginx", "GET / 200"), ("edge-1", "nginx", "GET /x 404")]
    assert rows[0][3].isoformat() == "2026-01-20T10:00:00"
    garbage = client.post("/loki/api/v1/push", content=b"\x00\x01garbage", headers={"Content-Type": "application/x-protobuf"})
    assert garbage.status_code == 400


def test_label_sets():
    assert parse_labels('{job="a", host="b\\"c"}') == {"job": "a", "host": 'b"c'}
    with pytest.raises(ValueError):
        parse_labels("job=a")


def test_python_logging_loki_client_against_a_live_server(db_urls, db, tmp_path):
    import logging_loki

    server = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    try:
        handler = logging_loki.LokiHandler(url=f"{server.url}/loki/api/v1/push", tags={"service_name": "billing",
                                                                                       "host": "app-7"}, version="1")
        logger = logging.getLogger(f"loki-test-{time.time()}")
        logger.addHandler(handler)
        logger.error("invoice %s failed: card declined", 42)
        logger.warning("retrying invoice %s", 42)
        wait_until(lambda: db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 2, timeout_s=20, what="loki lines")
        rows = db.fetchall("SELECT host, service, level, message FROM log_events ORDER BY id")
        assert rows == [("app-7", "billing", "error", "invoice 42 failed: card declined"),
                        ("app-7", "billing", "warning", "retrying invoice 42")]
    finally:
        server.stop()


def test_metrics_exposition(client):
    client.post("/ingest/logs", json={"logs": [{"timestamp": "2026-01-20T10:00:00Z", "host": "h", "service": "s",
                                                "message": "hello 1"}, {"bad": True}]})
    text = client.get("/metrics").text
    assert 'devmesh_ingest_records_total{outcome="accepted",source="http"} 1.0' in text
    assert 'devmesh_ingest_records_total{outcome="rejected",source="http"} 1.0' in text
    assert "devmesh_templates 1.0" in text and "devmesh_embedding_queue_depth" in text
    assert "devmesh_embedding_missing" in text
    assert 'devmesh_http_request_seconds_count{method="POST",route="/ingest/logs",status="200"} 1.0' in text
