"""POST /ingest/logs against a real MariaDB: idempotency, per-record rejects, limits, auth."""
from __future__ import annotations

import gzip
import json

import pytest
from fastapi.testclient import TestClient

import server
from ingest.pipeline import IngestSettings
from tests.conftest import make_settings, record


def stored(db) -> tuple[int, int, int]:
    """(events, sum of rollup counts, sum of template total_count) as the database has them."""
    events = db.fetchone("SELECT COUNT(*) FROM log_events")[0]
    rollups = db.fetchone("SELECT COALESCE(SUM(count), 0) FROM template_counts")[0]
    totals = db.fetchone("SELECT COALESCE(SUM(total_count), 0) FROM log_templates")[0]
    return int(events), int(rollups), int(totals)


def test_same_batch_twice_is_stored_once(client, db):
    batch = {"logs": [record(i) for i in range(50)]}
    first = client.post("/ingest/logs", json=batch).json()
    second = client.post("/ingest/logs", json=batch).json()
    assert (first["accepted"], first["duplicates"]) == (50, 0)
    assert (second["accepted"], second["duplicates"], second["new_templates"]) == (0, 50, 0)
    assert stored(db) == (50, 50, 50)


def test_duplicates_inside_one_batch_count_once(client, db):
    result = client.post("/ingest/logs", json={"logs": [record(1), record(1), record(2)]}).json()
    assert (result["accepted"], result["duplicates"]) == (2, 1)
    assert stored(db) == (2, 2, 2)


def test_malformed_record_is_rejected_alone_with_its_index(client, db):
    logs = [record(0), {"timestamp": "yesterday-ish", "host": "h", "service": "s", "message": "x"},
            record(2), {"host": "h", "service": "s", "timestamp": "2026-01-20T10:00:00Z"}, "not an object",
            record(5, level="loud")]
    result = client.post("/ingest/logs", json={"logs": logs}).json()
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1, 3, 4, 5]
    assert "timestamp" in result["rejected"][0]["error"]
    assert "message" in result["rejected"][1]["error"]
    assert "level" in result["rejected"][3]["error"]
    assert stored(db)[0] == 2


def test_gzip_body_is_accepted(client, db):
    body = gzip.compress(json.dumps({"logs": [record(i) for i in range(10)]}).encode())
    response = client.post("/ingest/logs", content=body,
                           headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 10


def test_limits_answer_413_and_write_nothing(db_urls, db):
    settings = make_settings(db_urls, ingest=IngestSettings(max_records=10, max_body_bytes=20_000))
    with TestClient(server.create_app(settings)) as c:
        too_many = c.post("/ingest/logs", json={"logs": [record(i) for i in range(11)]})
        assert too_many.status_code == 413
        assert too_many.json()["error"]["code"] == "too_many_records"
        too_big = c.post("/ingest/logs", json={"logs": [record(1, message="x" * 30_000)]})
        assert too_big.status_code == 413
        bomb = gzip.compress(json.dumps({"logs": [record(1, message="y" * 60_000)]}).encode())
        assert len(bomb) < 20_000
        inflated = c.post("/ingest/logs", content=bomb, headers={"Content-Encoding": "gzip"})
        assert inflated.status_code == 413
    assert stored(db)[0] == 0


@pytest.mark.parametrize("body, code", [(b"{not json", "invalid_json"), (b'{"logs": 3}', "invalid_batch"),
                                        (b"[]", "invalid_batch")])
def test_malformed_request_is_400_with_a_json_error(client, body, code):
    response = client.post("/ingest/logs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert "Traceback" not in response.text


def test_tokens_on_missing_or_wrong_token_is_401(db_urls, db):
    settings = make_settings(db_urls, server=server.ServerSettings(api_tokens="s3cret,other"))
    with TestClient(server.create_app(settings)) as c:
        batch = {"logs": [record(1)]}
        assert c.post("/ingest/logs", json=batch).status_code == 401
        wrong = c.post("/ingest/logs", json=batch, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
        ok = c.post("/ingest/logs", json=batch, headers={"Authorization": "Bearer other"})
        assert ok.status_code == 200 and ok.json()["accepted"] == 1
        assert c.get("/health").status_code == 200          # liveness stays open
    assert stored(db)[0] == 1


def test_token_scopes_limit_what_a_token_may_do(db_urls, db, tmp_path):
    """Issue 15: tokens were all-or-nothing, so the token on every shipper could read all
    logs and reload the inventory. Now `TOKEN:ingest` only sends, `TOKEN:read` only reads
    (its chat cannot open incidents), a bare `TOKEN` is admin."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("services:\n  mariadb: {hosts: [db-1]}\n")
    settings = make_settings(db_urls, inventory, server=server.ServerSettings(api_tokens="adm, ship:ingest, dash:read"))
    as_ = {name: {"Authorization": f"Bearer {name}"} for name in ("adm", "ship", "dash")}
    with TestClient(server.create_app(settings)) as c:
        assert c.post("/ingest/logs", json={"logs": [record(1)]}, headers=as_["ship"]).json()["accepted"] == 1
        for method, path in (("GET", "/query/logs"), ("POST", "/graph/reload"), ("POST", "/chat")):
            denied = c.request(method, path, headers=as_["ship"])
            assert denied.status_code == 403 and "scope" in denied.json()["error"]["detail"], path
        assert c.get("/query/logs", headers=as_["dash"]).status_code == 200
        assert c.post("/ingest/logs", json={"logs": [record(2)]}, headers=as_["dash"]).status_code == 403
        assert c.post("/incidents", json={"service": "mariadb"}, headers=as_["dash"]).status_code == 403
        asked = c.post("/analyze", json={"question": "investigate mariadb now"}, headers=as_["dash"]).json()
        assert asked["route"]["route"] == "investigate" and "admin token" in asked["answer"]["markdown"]
        assert c.get("/incidents", headers=as_["adm"]).json()["incidents"] == []       # nothing was opened
        assert c.post("/incidents", json={"service": "mariadb"}, headers=as_["adm"]).status_code in (200, 201, 202)
    bad = make_settings(db_urls, server=server.ServerSettings(api_tokens="x:write"))
    with pytest.raises(ValueError, match="unknown scope"):
        server.create_app(bad)


def test_refuses_to_bind_a_public_address_without_tokens(monkeypatch):
    from click.testing import CliRunner

    monkeypatch.delenv("DEVMESH_API_TOKENS", raising=False)
    result = CliRunner().invoke(server.main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "DEVMESH_API_TOKENS" in result.output


def test_fields_are_normalized_and_stored(client, db):
    rec = {"timestamp": "2026-01-20T12:00:00.123456+02:00", "host": "api-1", "service": "devmesh-api",
           "level": "WARN", "message": "slow query took 1532ms\n", "source": "app", "trace_id": "abc123",
           "span_id": "s1", "event_type": "db", "error_code": "E42", "meta": {"pid": 7}}
    assert client.post("/ingest/logs", json={"logs": [rec]}).json()["accepted"] == 1
    row = db.fetchone("SELECT ts, level, message, trace_id, span_id, event_type, error_code, "
                      "JSON_VALUE(meta_json, '$.pid') FROM log_events")
    assert row[0].isoformat() == "2026-01-20T10:00:00.123456"
    assert row[1:] == ("warning", "slow query took 1532ms", "abc123", "s1", "db", "E42", "7")
