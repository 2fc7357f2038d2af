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


def test_a_nul_in_a_name_never_reaches_the_graph(client):
    """Bug: a service named with \\u0000 was stored; FalkorDB's client cut its parameter header
    at the NUL, so /graph/neighborhood?node=a%00b, /context and /search/hybrid answered 500
    and fleet-wide investigations failed. Fix: names with control characters are rejected at
    ingest, and graph parameters never carry a NUL."""
    result = client.post("/ingest/logs", json={"logs": [record(1, service="a\u0000b")]}).json()
    assert result["accepted"] == 0 and result["rejected"][0]["error"].startswith("service")
    assert client.get("/graph/neighborhood", params={"node": "a\u0000b"}).status_code == 404
    assert client.get("/context", params={"service": "a\u0000b"}).status_code == 200
    assert client.get("/search/hybrid", params={"q": "disk", "service": "a\u0000b"}).status_code == 200


def test_graph_parameters_with_a_nul_find_nothing_instead_of_failing(graph):
    from db import graph as cypher

    graph.query("MERGE (:Service {name: 'api'})")
    assert graph.read("MATCH (s:Service) WHERE s.name = $n RETURN s.name", {"n": "a\u0000b"}) == []
    assert graph.read("MATCH (s:Service) WHERE s.name IN $names RETURN s.name", {"names": ["a\u0000b", "api"]}) == \
        [["api"]]
    assert cypher.upstream(graph, "a\u0000b") == []


def test_compression_bombs_stop_at_the_body_limit(db_urls):
    """Bug: `Content-Encoding: deflate` of 1 MB inflating to 1 GiB answered 400 after 6.4 s
    at 2.6 GB RSS, with /health blocked; a snappy push decoding to 20 MiB blocked the server
    10 s. Fix: every decoder has an output ceiling (413) and runs off the event loop."""
    import zlib

    import cramjam
    from fastapi.testclient import TestClient

    import server
    from ingest.pipeline import IngestSettings
    from tests.conftest import make_settings

    limit = 1024 * 1024
    settings = make_settings(db_urls, ingest=IngestSettings(max_body_bytes=limit))
    bomb = zlib.compress(b"\0" * (64 * limit), 9)                      # 64 KiB -> 64 MiB
    assert len(bomb) < limit
    with TestClient(server.create_app(settings)) as c:
        for path in ("/ingest/logs", "/v1/logs", "/loki/api/v1/push"):
            r = c.post(path, content=bomb, headers={"Content-Encoding": "deflate", "Content-Type": "application/json"})
            assert r.status_code == 413, (path, r.status_code)
        raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        small = raw_deflate.compress(json.dumps({"logs": [record(1)]}).encode()) + raw_deflate.flush()
        ok = c.post("/ingest/logs", content=small, headers={"Content-Encoding": "deflate",
                                                            "Content-Type": "application/json"})
        assert ok.status_code == 200 and ok.json()["accepted"] == 1          # raw deflate is read too
        snappy = bytes(cramjam.snappy.compress_raw(b"\0" * (20 * limit)))
        r = c.post("/loki/api/v1/push", content=snappy, headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 413 and "snappy" in r.json()["error"]["message"]


def test_the_alert_webhook_has_a_body_limit(client):
    big = json.dumps({"alerts": [{"labels": {"alertname": "x" * (2 * 1024 * 1024)}}]}).encode()
    r = client.post("/alerts/alertmanager", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_incident_fields_are_bounded_by_their_columns(client):
    """Bug: POST /incidents/99999999999999999999999/investigate (OverflowError), a 200-char
    service (DataError) and a surrogate title (IntegrityError) answered 500."""
    assert client.post("/incidents/99999999999999999999999/investigate").status_code == 422
    assert client.get("/incidents/0").status_code == 422
    long = client.post("/incidents", json={"service": "s" * 200})
    assert long.status_code == 422 and long.json()["error"]["code"] == "invalid_request"
    body = json.dumps({"title": "disk \ud800 full", "service": "mariadb"}).encode()
    made = client.post("/incidents", content=body, headers={"Content-Type": "application/json"})
    assert made.status_code == 422 and made.json()["error"]["detail"][0]["loc"] == ["body", "title"]
    assert client.post("/incidents/1/feedback", json={"verdict": "reject", "root_cause_service": "x" * 129}
                       ).status_code == 422


def test_receivers_reject_an_odd_record_alone(client, db):
    """Bug: Loki values with a 400-digit timestamp and OTLP `timeUnixNano` of 400 digits or a
    kvlistValue entry without `key` answered 500 and lost the request; a wrong-typed OTLP
    field rejected the whole request. Fix: each is that record's problem (OTLP answers
    partialSuccess)."""
    loki = {"streams": [{"stream": {"job": "api", "host": "web-1"},
                         "values": [[NS, "GET /a 200"], ["9" * 400, "GET /b 200"]]}]}
    assert client.post("/loki/api/v1/push", json=loki).status_code == 204
    good = {"timeUnixNano": NS, "severityNumber": 9, "body": {"stringValue": "paid"}}
    odd = [{**good, "timeUnixNano": "9" * 400}, {**good, "severityNumber": "high"},
           {**good, "body": {"kvlistValue": {"values": [{"value": {"stringValue": "no key"}}]}}},
           {**good, "attributes": [{"key": ["not", "a", "string"], "value": {"stringValue": "x"}}]},
           {**good, "body": {"stringValue": "paid twice"}}]
    body = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "pay"}}]},
                              "scopeLogs": [{"logRecords": [good, *odd]}]}]}
    r = client.post("/v1/logs", json=body)
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "3" and partial["errorMessage"]   # 400 digits, "high", a list as key
    services = [row[0] for row in db.fetchall("SELECT service FROM log_events ORDER BY id")]
    assert services == ["api", "pay", "pay", "pay"]           # the kvlist entry without a key is dropped, not the log


def test_a_row_the_database_refuses_is_rejected_not_counted_as_a_duplicate(db):
    """Bug: meta nested 32+ levels failed MariaDB's JSON check; INSERT IGNORE ... RETURNING
    skipped the row and the pipeline said `accepted: 0, duplicates: 1` with 0 rows stored.
    Fix: a skipped row is a duplicate only when its log_hash is stored. (normalize now caps
    meta at 16 levels, so the writer is fed such a record directly here.)"""
    from ingest.pipeline import Ingestor, process_batch

    ingestor = Ingestor(db)
    assert ingestor.ingest([record(1)]).accepted == 1
    batch = process_batch([record(1), record(2), record(3)])
    deep: dict = {"leaf": 1}
    for _ in range(40):
        deep = {"d": deep}
    batch.records[2].meta = deep                     # what normalize would refuse, past it
    result = ingestor.write(batch)
    assert (result.accepted, result.duplicates) == (1, 1)
    assert [r["index"] for r in result.rejected] == [2] and "refused" in result.rejected[0]["error"]
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 2


def test_odd_alerts_are_rejected_one_by_one(client, db):
    """Bug: labels or annotations as a list, int label values, startsAt year 1 with an
    offset or 10^400, a 1,000-char summary, a 200-char service label, NUL and surrogate
    labels answered 500. Fix: the v4 shape is validated per alert; long text is cut with a
    marker; names fit their columns."""
    def alert(n: int, **over) -> dict:
        return {"status": "firing", "labels": {"alertname": f"A{n}", "service": "api"},
                "annotations": {"summary": "down"}, "startsAt": "2026-01-20T10:00:00Z", "fingerprint": f"f{n}", **over}
    alerts = [alert(0), alert(1, labels=["service", "api"]), alert(2, labels={"alertname": "A2", "replicas": 3}),
              alert(3, annotations=["summary"]), alert(4, startsAt="0001-01-01T00:00:00+01:00"),
              alert(5, startsAt=10 ** 400), alert(6, annotations={"summary": "s" * 1000}),
              alert(7, labels={"alertname": "A7", "service": "x" * 200}),
              alert(8, labels={"alertname": "A\u00008", "service": "api\ud800"})]
    r = client.post("/alerts/alertmanager", content=json.dumps({"alerts": alerts}).encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["index"] for x in body["rejected"]] == [1, 3]
    assert len(body["opened"]) == 7
    titles = [row[0] for row in db.fetchall("SELECT title FROM incidents ORDER BY id")]
    assert all(len(t) <= 255 for t in titles) and any(t.endswith("…") for t in titles)
    listed = client.post("/alerts/alertmanager", json={"alerts": [alert(9)], "commonLabels": ["x"]})
    assert listed.status_code == 400 and "commonLabels" in listed.json()["error"]["message"]


def test_routes_without_their_own_limit_refuse_big_bodies(client):
    """Bug: /chat and /incidents accepted a 64 MiB body. Fix: a 1 MiB ceiling
    (DEVMESH_MAX_BODY_BYTES) on every route that does not read its body itself."""
    big = json.dumps({"question": "x" * (2 * 1024 * 1024)}).encode()
    for path in ("/chat", "/analyze", "/incidents"):
        r = client.post(path, content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large", path

    def chunks():
        for _ in range(40):
            yield b"x" * 65536
    r = client.post("/incidents", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413                                   # chunked: counted as it arrives
    assert client.post("/analyze", json={"question": "any incidents?"}).status_code == 200
