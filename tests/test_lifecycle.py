"""An incident's lifecycle (open -> acknowledged -> resolved, snoozed) by HTTP and by the
detector cycle, and the merge rules that keep one fault in one incident and a new fault
out of an old one. Real MariaDB and FalkorDB; rollups written by the real pipeline."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from db import incidents as incident_sql
from db import lifecycle
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from graphs import investigate as investigation
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory

T0 = datetime(2026, 2, 3, 9, 0)
SETTINGS = DetectorSettings(learning_minutes=60, cooldown_minutes=30, merge_minutes=20, silence_minutes=10,
                            resolve_quiet_minutes=15)
# api and worker both call the database; the gateway calls the api; cache is a second
# dependency of the api (a sibling of the database)
INVENTORY = parse("""
services:
  db:      {hosts: [db-host]}
  cache:   {hosts: [cache-host]}
  api:     {hosts: [app-host], depends_on: [db, cache]}
  gateway: {hosts: [edge-host], depends_on: [api]}
  batch:   {hosts: [ops-host]}
""")
HOSTS = {"db": "db-host", "cache": "cache-host", "api": "app-host", "gateway": "edge-host", "batch": "ops-host"}


def line(minute: float, service: str, message: str, level: str = "info") -> dict:
    return {"timestamp": (T0 + timedelta(minutes=minute)).isoformat() + "Z", "host": HOSTS[service],
            "service": service, "level": level, "message": message}


def background(minutes: range, service: str, per_minute: int = 10, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [line(m + i / per_minute, service, f"GET /items/{rng.randrange(999)} 200 {rng.randrange(90)}ms")
            for m in minutes for i in range(per_minute)]


def burst(minute: float, service: str, text: str, n: int = 30) -> list[dict]:
    return [line(minute + i / (2 * n), service, text.format(i), "error") for i in range(n)]


@pytest.fixture
def fleet(db, graph):
    load_inventory(graph, INVENTORY)
    ingestor = Ingestor(db, services=ServiceMap(INVENTORY))
    for seed, service in enumerate(HOSTS):
        ingestor.ingest(background(range(-120, 60), service, seed=seed))
    return ingestor.ingest


def cycle(db, graph, minute: float):
    return run_cycle(db, graph, SETTINGS, T0 + timedelta(minutes=minute))


def cycles(db, graph, start: float, end: float) -> list:
    return [cycle(db, graph, m) for m in range(int(start), int(end) + 1)]


def opened(results) -> list[int]:
    return [i for r in results for i in r.opened]


# -- by hand, over HTTP ---------------------------------------------------------------------

def test_ack_snooze_resolve_by_http(client):
    incident = client.post("/incidents", json={"service": "api", "title": "api slow"}).json()["id"]
    acked = client.post(f"/incidents/{incident}/ack")
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged" and acked.json()["acknowledged_at"]
    snoozed = client.post(f"/incidents/{incident}/snooze", json={"minutes": 30}).json()
    assert snoozed["state"] == "snoozed"
    until = datetime.fromisoformat(snoozed["snoozed_until"].rstrip("Z"))
    assert timedelta(minutes=29) < until - datetime.fromisoformat(snoozed["acknowledged_at"].rstrip("Z"))
    resolved = client.post(f"/incidents/{incident}/resolve").json()
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "person" and resolved["snoozed_until"] is None
    assert client.post(f"/incidents/{incident}/resolve").status_code == 200        # resolving twice is no error
    refused = client.post(f"/incidents/{incident}/ack")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"
    assert client.post("/incidents/987654/ack").status_code == 404
    assert client.post(f"/incidents/{incident}/snooze", json={"minutes": 0}).status_code == 422
    listed = client.get("/incidents", params={"state": "resolved"}).json()["incidents"]
    assert [i["id"] for i in listed] == [incident]
    assert client.get("/incidents", params={"state": "open"}).json()["incidents"] == []
    assert client.get("/incidents", params={"state": "gone"}).status_code == 400
    metrics = [line for line in client.get("/metrics").text.splitlines() if line.startswith("devmesh_incidents{")]
    assert len(metrics) == 1 and 'state="resolved"' in metrics[0] and float(metrics[0].split()[-1]) == 1


# -- the detector cycle ---------------------------------------------------------------------

def test_a_resolved_incident_takes_no_new_signal(db, graph, fleet):
    fleet(burst(10, "db", "Lock wait timeout exceeded for trx {}"))
    first = opened(cycles(db, graph, -1, 12))
    assert len(first) == 1
    with db.transaction() as cur:
        lifecycle.transition(cur, first[0], "resolve", T0 + timedelta(minutes=12))
    fleet(burst(14, "api", "query {} failed: Lost connection to server during query"))
    results = cycles(db, graph, 13, 16)
    again = opened(results)
    assert len(again) == 1 and again != first
    assert {s["service"] for s in incident_sql.signals(db, first[0])} == {"db"}
    assert "api" in incident_sql.get(db, again[0])["services"]


def test_an_incident_whose_signals_stay_quiet_resolves_itself_and_a_snooze_runs_out(db, graph, fleet):
    fleet(burst(10, "db", "Lock wait timeout exceeded for trx {}"))
    fleet(burst(10, "batch", "export {} failed: permission denied on /srv/exports"))
    results = cycles(db, graph, -1, 12)
    db_incident, batch_incident = sorted(opened(results))
    with db.transaction() as cur:
        lifecycle.transition(cur, batch_incident, "snooze", T0 + timedelta(minutes=12), until=T0 + timedelta(minutes=20))
    states = {}
    for minute in range(13, 31):
        cycle(db, graph, minute)
        states[minute] = (incident_sql.get(db, db_incident)["state"], incident_sql.get(db, batch_incident)["state"])
    assert [m for m in states if states[m][1] == "snoozed"] == list(range(13, 20))    # runs out at its minute
    # last signals at minute 10; resolved once 15 minutes passed without one (the woken one too)
    assert [m for m in states if states[m][0] == "resolved"] == list(range(26, 31))
    assert states[26][1] == "resolved" and states[25][1] == "open"
    incident = incident_sql.get(db, db_incident)
    assert incident["resolved_by"] == "quiet" and incident["resolved_at"].startswith("2026-02-03T09:26")


def test_manual_incidents_wait_for_a_person(db, graph, fleet):
    with db.transaction() as cur:
        manual = incident_sql.open_incident(cur, "reported by hand: api", "manual", "error", "api", None, ["api"],
                                            T0, T0 + timedelta(minutes=5), T0)
    cycles(db, graph, -1, 40)
    assert incident_sql.get(db, manual)["state"] == "open"


def _report(db, incident_id: int, root: str) -> None:
    incident_sql.save_report(db, incident_id, {"root_cause_service": root, "root_cause_hypothesis": f"{root} broke",
                                               "confidence": 0.8}, f"# {root}")


def test_after_a_report_a_new_fault_beneath_an_impacted_service_is_its_own_incident(db, graph, fleet):
    """The database broke and the api complains (reported: db). The gateway, which calls the
    api, starts failing too: impacted, it joins, and the incident is investigated again as
    its picture changed. Then the cache, the api's other dependency, breaks: a sibling of the
    root cause, not on its chain, so a new incident."""
    fleet(burst(10, "db", "InnoDB: lock wait timeout {} exceeded; rolling back transaction"))
    fleet(burst(11, "api", "query {} failed: Lost connection to server during query"))
    first = opened(cycles(db, graph, -1, 12))
    assert len(first) == 1 and set(incident_sql.get(db, first[0])["services"]) == {"db", "api"}
    _report(db, first[0], "db")
    fleet(burst(13, "gateway", "upstream api returned 502 for request {}"))
    results = cycles(db, graph, 13, 15)
    assert opened(results) == [] and "gateway" in incident_sql.get(db, first[0])["services"]
    assert first[0] in [i for r in results for i in r.requeued]
    assert incident_sql.get(db, first[0])["status"] == "open"          # to be investigated again
    _report(db, first[0], "db")
    fleet(burst(17, "cache", "OOM command not allowed when used memory > 'maxmemory' {}"))
    new = opened(cycles(db, graph, 16, 19))
    assert len(new) == 1 and incident_sql.get(db, new[0])["services"] == ["cache"]
    assert "cache" not in incident_sql.get(db, first[0])["services"]


def test_a_symptom_two_faults_share_goes_to_the_one_happening_now(db, graph, fleet):
    """db broke (reported), then cache broke (its own incident); the gateway in front of
    both now fails: it joins the incident that grew last."""
    fleet(burst(10, "db", "InnoDB: lock wait timeout {} exceeded; rolling back transaction"))
    first = opened(cycles(db, graph, -1, 11))
    _report(db, first[0], "db")
    fleet(burst(14, "cache", "OOM command not allowed when used memory > 'maxmemory' {}"))
    second = opened(cycles(db, graph, 12, 15))
    assert len(second) == 1 and second != first
    fleet(burst(16, "gateway", "upstream api returned 502 for request {}"))
    assert opened(cycles(db, graph, 16, 18)) == []
    assert "gateway" in incident_sql.get(db, second[0])["services"]
    assert "gateway" not in incident_sql.get(db, first[0])["services"]


# -- splitting off another fault --------------------------------------------------------------

class _Candidate:
    def __init__(self, service):
        self.service = service


class _Scope:
    def __init__(self, upstream):
        self.upstream = upstream


def _state(ranked: list[str], upstream: dict, signal_ids: list[int]) -> dict:
    return {"candidates": [_Candidate(s) for s in ranked], "scope": _Scope(upstream),
            "signals": [{"id": i} for i in signal_ids]}


def test_a_new_root_cause_unrelated_to_the_reported_one_splits_only_the_later_signals():
    state = _state(["cache", "gateway", "api"], {"api": {"db", "cache"}, "gateway": {"api", "db", "cache"}},
                   [1, 2, 7, 9])
    assert investigation._another_fault(state, ("db", 2)) == [7, 9]
    # the same root cause, or one on its chain, or the old one still in the top three: no split
    assert investigation._another_fault(_state(["db", "api"], {"api": {"db"}}, [1, 7]), ("db", 2)) == []
    assert investigation._another_fault(_state(["api", "cache"], {"api": {"db"}}, [1, 7]), ("db", 2)) == []
    assert investigation._another_fault(_state(["cache", "db"], {}, [1, 7]), ("db", 2)) == []
    assert investigation._another_fault(state, None) == []                 # the first report


def test_split_moves_the_signals_and_leaves_the_old_report_standing(db, graph, fleet):
    fleet(burst(10, "db", "InnoDB: deadlock {} found; rolling back transaction"))
    first = opened(cycles(db, graph, -1, 11))[0]
    _report(db, first, "db")
    fleet(burst(14, "api", "query {} failed: Lost connection to server during query"))
    cycles(db, graph, 12, 15)
    later = [s["id"] for s in incident_sql.signals(db, first) if s["service"] == "api"]
    assert later
    with db.transaction() as cur:
        new = lifecycle.split(cur, first, later, "new errors on app-host (api)", T0 + timedelta(minutes=16), 900)
    moved = incident_sql.get(db, new)
    assert moved["services"] == ["api"] and moved["trigger"] == "split" and moved["status"] == "open"
    assert {s["service"] for s in incident_sql.signals(db, new)} == {"api"}
    old = incident_sql.get(db, first)
    assert old["services"] == ["db"] and old["status"] == "reported"
    assert incident_sql.latest_report(db, first)["root_cause_service"] == "db"
