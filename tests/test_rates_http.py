"""GET /stats/services and GET /query/logs/histogram (issue 18: what the web UI draws),
on the real pipeline and MariaDB: counts per step are the lines ingested, the health word
follows the errors, the histogram's text filter (raw events) agrees with the rollups."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

import server
from tests.conftest import make_settings, migrated_database

T0 = datetime(2026, 3, 1, 12, 0)
INVENTORY = """
services:
  api: {type: api, hosts: [app-1]}
  worker: {type: worker, hosts: [app-1]}
  idle: {type: service, hosts: [app-2]}
"""


def line(minute: int, second: int, service: str, level: str, message: str) -> dict:
    return {"timestamp": (T0 + timedelta(minutes=minute, seconds=second)).isoformat() + "Z", "host": "app-1",
            "service": service, "level": level, "message": message}


def records() -> list[dict]:
    out = []
    for m in range(60):
        for s in (0, 20, 40):
            out.append(line(m, s, "api", "info", f"GET /items/{m * 3 + s} 200"))
            out.append(line(m, s + 1, "worker", "info", f"job {m}-{s} done"))
        if m >= 55:                                             # the last five minutes: api fails
            out += [line(m, 50 + k, "api", "error", f"upstream refused after {k}s") for k in range(4)]
    return out


@pytest.fixture(scope="module")
def api(base_urls, tmp_path_factory):
    """One app and database for the module: the tests only read."""
    inventory = tmp_path_factory.mktemp("rates") / "inventory.yaml"
    inventory.write_text(INVENTORY)
    with migrated_database(base_urls[0]) as name:
        app = server.create_app(make_settings((base_urls[0].with_database(name), base_urls[1].with_database(name)),
                                              inventory))
        with TestClient(app) as c:
            assert c.post("/ingest/logs", json={"logs": records()}).json()["rejected"] == []
            yield c
        app.state.graph.drop()


def at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat() + "Z"


def test_services_per_step_with_health(api):
    body = api.get("/stats/services", params={"since": at(0), "until": at(60), "step": "5m"}).json()
    assert body["step_s"] == 300 and len(body["buckets"]) == 12 and body["buckets"][0] == at(0)
    by = {s["service"]: s for s in body["services"]}
    assert set(by) == {"api", "worker", "idle"}                      # the inventory's, idle ones too
    assert by["worker"]["lines"] == [15] * 12 and by["worker"]["errors"] == [0] * 12
    assert by["api"]["lines"][:11] == [15] * 11 and by["api"]["lines"][11] == 15 + 20
    assert by["api"]["errors"] == [0] * 11 + [20]
    assert by["api"]["health"] == "elevated" and by["worker"]["health"] == "ok"
    assert by["idle"]["health"] == "idle" and by["idle"]["in_inventory"]
    quiet = api.get("/stats/services", params={"since": at(30), "until": at(80), "step": "5m"}).json()
    assert {s["service"]: s["health"] for s in quiet["services"]}["worker"] == "quiet"   # talked, then nothing


def test_histogram_counts_per_minute_for_the_log_filters(api):
    body = api.get("/query/logs/histogram", params={"since": at(50), "until": at(60), "service": "api",
                                                     "level": "error"}).json()
    assert body["step_s"] == 60 and [b["count"] for b in body["buckets"]] == [0] * 5 + [4] * 5
    assert body["total"] == 20 and body["truncated"] is False
    everything = api.get("/query/logs/histogram", params={"since": at(0), "until": at(60)}).json()
    assert everything["total"] == len(records())
    by_text = api.get("/query/logs/histogram", params={"since": at(50), "until": at(60), "q": "refused"}).json()
    assert [b["count"] for b in by_text["buckets"]] == [b["count"] for b in body["buckets"]]   # raw scan == rollups
    wide = api.get("/query/logs/histogram", params={"since": at(0), "until": at(60 * 24)}).json()
    assert wide["step_s"] == 120 and len(wide["buckets"]) == 720                 # at most 720 bars
    assert sum(b["count"] for b in wide["buckets"]) == len(records())


@pytest.mark.parametrize("path, params, code", [
    ("/stats/services", {"step": "90s"}, "invalid_step"),
    ("/stats/services", {"step": "soon"}, "invalid_step"),
    ("/query/logs/histogram", {"since": at(10), "until": at(5)}, "invalid_window"),
    ("/query/logs/histogram", {"since": at(0), "until": at(60 * 24 * 40)}, "window_too_long"),
    ("/query/logs/histogram", {"level": "loud"}, "invalid_level"),
    ("/stats/services", {"since": "yesterday-ish"}, "invalid_time"),
])
def test_bad_parameters_are_400_with_a_reason(api, path, params, code):
    response = api.get(path, params=params)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
