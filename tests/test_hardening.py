"""Issue 15: odd input rejects the record it is in, never the batch, never the process.

Each probe here came from a fuzzing run against main; the comments say what it did then.
"""
from __future__ import annotations

import json

import httpx

from evals.live import LiveServer
from tests.conftest import record

SURROGATE = "x\ud800"
NS = "1768903200000000000"


def raw(body: dict) -> bytes:
    """JSON as a client library sends it, lone surrogates as \\ud800 escapes (legal JSON)."""
    return json.dumps(body).encode()


def test_lone_surrogates_in_any_field_leave_the_server_up(db_urls, db, tmp_path):
    """Bug: `"trace_id": "x\\ud800"` (or span_id, event_type, error_code, source, any meta key
    or value; OTLP traceId, attributes, service.name; Loki labels and structured metadata)
    killed the process with SIGSEGV in the MariaDB connector's executemany, and a shipper
    re-sending the batch killed it again. Cause: only message/host/service were cleaned.
    Fix: every string of a record is cleaned at one boundary (ingest/normalize.py)."""
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    try:
        probes = []
        for field in ("trace_id", "span_id", "event_type", "error_code", "source"):
            probes.append(("/ingest/logs", {"logs": [record(len(probes), **{field: SURROGATE})]}))
        probes.append(("/ingest/logs", {"logs": [record(90, meta={SURROGATE: "k"})]}))
        probes.append(("/ingest/logs", {"logs": [record(91, meta={"v": [SURROGATE, {"deeper": SURROGATE}]})]}))
        otlp_record = {"timeUnixNano": NS, "severityNumber": 17, "body": {"stringValue": "disk full"},
                       "traceId": "5b8efff798038103d269b633813fc60" + "\ud800",
                       "attributes": [{"key": "user", "value": {"stringValue": SURROGATE}}]}
        probes.append(("/v1/logs", {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": SURROGATE}},
            {"key": "host.name", "value": {"stringValue": "pay-1"}}]},
            "scopeLogs": [{"logRecords": [otlp_record]}]}]}))
        probes.append(("/loki/api/v1/push", {"streams": [{"stream": {"job": SURROGATE, "host": "web-1"},
                                                         "values": [[NS, "GET /x 500"]]}]}))
        probes.append(("/loki/api/v1/push", {"streams": [{"stream": {"job": "api", "host": "web-1"},
                                                         "values": [[NS, "GET /y 500", {"trace_id": SURROGATE}]]}]}))
        for path, body in probes:
            response = httpx.post(f"{live.url}{path}", content=raw(body),
                                  headers={"Content-Type": "application/json"}, timeout=30)
            assert response.status_code < 500, (path, response.text)
            assert httpx.get(f"{live.url}/health", timeout=10).status_code == 200, f"the server died on {body}"
        assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == len(probes)        # each stored, cleaned
        assert db.fetchone("SELECT COUNT(*) FROM log_events WHERE trace_id = ?", ("x\ufffd",))[0] == 2
    finally:
        live.stop()


def test_one_bad_record_costs_no_good_one(client, db):
    """Bug: each of these answered 500 and lost the whole batch (OverflowError, ValueError,
    a silent "duplicate" for meta MariaDB's JSON check refused). Fix: normalize rejects the
    record alone, with its reason."""
    bad = [
        ("timestamp", "0001-01-01T00:00:00+01:00"), ("timestamp", "9999-12-31T23:59:59-01:00"),
        ("timestamp", int("9" * 401)), ("level", "²"), ("level", "7" * 5000),
        ("meta", {"a": json.loads('{"b":' * 40 + "1" + "}" * 40)}), ("service", "api\u0000x"),
        ("host", "web\n1"), ("meta", {"big": "x" * 70_000}),
    ]
    logs = []
    for i, (field, value) in enumerate(bad):
        logs += [record(2 * i), record(2 * i + 1, **{field: value})]
    body = json.dumps({"logs": logs}).encode()
    response = client.post("/ingest/logs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == len(bad) and result["duplicates"] == 0
    assert [r["index"] for r in result["rejected"]] == [2 * i + 1 for i in range(len(bad))]
    for (field, _), reject in zip(bad, result["rejected"]):
        assert reject["error"].startswith(field), reject
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == len(bad)


def test_a_body_that_cannot_be_read_is_a_400_not_a_500(client):
    """Bug: an integer of more than 4,300 digits anywhere in the body (ValueError) and a
    10,000-deep body (RecursionError) answered 500."""
    for path in ("/ingest/logs", "/v1/logs", "/loki/api/v1/push", "/alerts/alertmanager"):
        huge = b'{"logs": [{"n": ' + b"9" * 5000 + b"}]}"
        deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
        for body in (huge, deep):
            response = client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 400, (path, response.status_code, response.text[:200])
            assert response.json()["error"]["message"]
        assert client.get("/health").status_code == 200
