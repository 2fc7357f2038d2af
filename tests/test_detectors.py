"""Each detector fires on its pattern and stays silent during learning, under cooldown and
on normal noise; signals on connected services fold into one incident; a cycle is atomic
and runs once across processes. Real MariaDB (rollups written by the real pipeline)."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from db import incidents as incident_sql
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory

T0 = datetime(2026, 1, 20, 12, 0)
SETTINGS = DetectorSettings(learning_minutes=60, cooldown_minutes=30, merge_minutes=20, silence_minutes=10)
INVENTORY = parse("""
services:
  mariadb: {hosts: [db-host], units: [mariadb.service]}
  api:     {hosts: [app-host], depends_on: [mariadb]}
  nginx:   {hosts: [app-host], units: [nginx.service], depends_on: [api]}
  batch:   {hosts: [ops-host]}
  kernel:  {hosts: [db-host, app-host, ops-host]}
  systemd: {hosts: [db-host, app-host, ops-host], aliases: [init.scope]}
""")


def line(minute: float, service: str, message: str, level: str = "info", host: str = "app-host") -> dict:
    return {"timestamp": (T0 + timedelta(minutes=minute)).isoformat() + "Z", "host": host, "service": service,
            "level": level, "message": message}


def background(minutes: range, service: str = "api", per_minute: int = 20, errors: tuple = (0, 3),
               host: str = "app-host", seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for m in minutes:
        out += [line(m + i / per_minute, service, f"GET /items/{rng.randrange(999)} 200 {rng.randrange(90)}ms",
                     host=host) for i in range(per_minute)]
        out += [line(m + 0.5 + i / 100, service, f"upstream request {rng.randrange(999)} failed, retrying",
                     "error", host) for i in range(rng.randint(*errors))]
    return out


def cycles(db, graph, start: float, end: float, units=None) -> list:
    """Run the detectors every minute of a replay clock from T0+start to T0+end."""
    results = []
    minute = start
    while minute <= end:
        results.append(run_cycle(db, graph, SETTINGS, T0 + timedelta(minutes=minute), units))
        minute += 1
    return results


def fired(results, detector: str | None = None) -> list:
    return [s for r in results for s in r.signals if detector is None or s.detector == detector]


@pytest.fixture
def ingest(db):
    ingestor = Ingestor(db, services=ServiceMap(INVENTORY))
    return ingestor.ingest


def test_error_spike_fires_on_a_spike_and_not_on_noise(db, ingest):
    ingest(background(range(-120, 30)))
    ingest([line(20 + i / 60, "api", f"database call {i} failed: timeout", "error") for i in range(60)])
    results = cycles(db, None, -1, 25)
    spikes = fired(results, "error_spike")
    assert [(s.service, s.at) for s in spikes] == [("api", T0 + timedelta(minutes=20))]
    assert spikes[0].detail["errors"] >= 60
    assert fired(results, "silence") == [] and fired(results, "catastrophic") == []


def test_learning_period_observes_without_alerting(db, ingest):
    ingest(background(range(-20, 30), service="batch", host="ops-host"))           # a new service
    ingest([line(20 + i / 60, "batch", f"job {i} failed: No space left on device", "error", "ops-host")
            for i in range(60)])
    assert fired(cycles(db, None, -1, 25)) == []


def test_cooldown_keeps_one_fault_from_firing_again(db, ingest):
    ingest(background(range(-120, 40)))
    for start in (10, 18):
        ingest([line(start + i / 60, "api", f"database call {start}-{i} failed", "error") for i in range(60)])
    spikes = fired(cycles(db, None, -1, 30), "error_spike")
    assert [s.at for s in spikes] == [T0 + timedelta(minutes=10)]


def test_new_error_template_fires_once_past_learning(db, ingest):
    ingest(background(range(-120, 30)))
    ingest([line(12.5, "api", "TLS handshake to payments failed: bad record MAC", "error")])
    results = cycles(db, None, -1, 20)
    new = fired(results, "new_error_template")
    assert [(s.service, s.at) for s in new] == [("api", T0 + timedelta(minutes=12))]
    assert "TLS handshake" in new[0].message and len(new[0].template_ids) == 1


def test_silence_fires_when_a_chatty_service_goes_quiet(db, ingest):
    ingest(background(range(-120, 5)))
    ingest(background(range(-120, 30), service="batch", host="ops-host", seed=7))     # the fleet talks on
    results = cycles(db, None, -1, 20)
    silent = fired(results, "silence")
    assert [(s.service, s.at) for s in silent] == [("api", T0 + timedelta(minutes=14))]


def test_a_fleet_that_goes_quiet_together_blames_no_service(db, ingest):
    """The shipper died, the network went, a replay ended: everyone stops at once. Nobody
    is silent on their own, now or after the cooldown, even once a few lines come back."""
    ingest(background(range(-120, 5)))
    ingest(background(range(-120, 5), service="batch", host="ops-host", seed=7))
    ingest(background(range(40, 60), service="batch", host="ops-host", seed=8))      # one comes back later
    results = cycles(db, None, -1, 60)
    assert fired(results, "silence") == []
    assert sum(r.unwitnessed for r in results) >= 2


def test_catastrophic_primitives(db, ingest):
    ingest(background(range(-120, 30), service="mariadb", host="db-host"))
    ingest([line(7.2, "mariadb", "InnoDB: Error: write to file ./ibdata1 failed at offset 3: "
                 "No space left on device", "error", "db-host")])
    found = fired(cycles(db, None, -1, 12), "catastrophic")
    assert [(s.service, s.host, s.detail["primitive"], s.severity) for s in found] == [
        ("mariadb", "db-host", "disk_full", "critical")]


def test_oom_then_restarts_on_the_host_is_one_incident(db, ingest, graph):
    load_inventory(graph, INVENTORY)
    ingest(background(range(-120, 30), service="nginx"))
    ingest(background(range(-120, 30), service="kernel", per_minute=1, errors=(0, 0), seed=2))
    ingest(background(range(-120, 30), service="systemd", per_minute=2, errors=(0, 0), seed=3))
    ingest([line(10.1, "kernel", "Out of memory: Killed process 4242 (nginx) total-vm:812345kB", "critical"),
            line(10.3, "init.scope", "nginx.service: Main process exited, code=killed, status=9/KILL", "warning"),
            line(10.4, "init.scope", "nginx.service: Scheduled restart job, restart counter is at 1.", "info")])
    results = cycles(db, graph, -1, 14, ServiceMap(INVENTORY).names())
    kinds = sorted((s.detector, s.service) for s in fired(results))
    assert ("catastrophic", "kernel") in kinds and ("correlation", "nginx") in kinds
    opened = [i for r in results for i in r.opened]
    assert len(opened) == 1
    incident = incident_sql.get(db, opened[0])
    assert incident["severity"] == "critical" and {"kernel", "nginx"} <= set(incident["services"])


def test_the_kernel_killing_a_database_and_its_callers_errors_are_one_incident(db, ingest, graph):
    """The kernel's OOM kill on db-host opens an incident about the kernel; the API on another
    host that depends on the database on db-host then errors. Not the same service, not the
    same host, and the kernel is on no dependency chain: but what the API depends on runs on
    the incident's host, so it is the same fault."""
    load_inventory(graph, INVENTORY)
    for service, host, seed in (("mariadb", "db-host", 4), ("api", "app-host", 5), ("batch", "ops-host", 6)):
        ingest(background(range(-120, 40), service=service, host=host, seed=seed))
    ingest(background(range(-120, 40), service="kernel", per_minute=1, errors=(0, 0), host="db-host", seed=2))
    ingest([line(10.1, "kernel", "Out of memory: Killed process 4242 (mariadbd) total-vm:8123456kB", "critical",
                 "db-host")])
    ingest([line(12 + i / 60, "api", f"query {i} failed: Lost connection to MySQL server", "error")
            for i in range(60)])
    ingest([line(13 + i / 60, "batch", f"export {i} failed: permission denied", "error", "ops-host")
            for i in range(60)])
    results = cycles(db, graph, -1, 16)
    assert {s.service for s in fired(results)} >= {"kernel", "api", "batch"}
    by_service = {frozenset(i["services"]): i for i in incident_sql.listing(db)}
    assert len(by_service) == 2 and frozenset({"batch"}) in by_service
    assert any({"kernel", "api"} <= set(services) for services in by_service)


def test_signals_on_connected_services_merge_and_unrelated_ones_do_not(db, ingest, graph):
    load_inventory(graph, INVENTORY)
    for service, host, seed in (("mariadb", "db-host", 4), ("api", "app-host", 5), ("batch", "ops-host", 6)):
        ingest(background(range(-120, 40), service=service, host=host, seed=seed))
    ingest([line(10.2, "mariadb", "InnoDB: disk is full, No space left on device", "critical", "db-host")])
    ingest([line(12 + i / 60, "api", f"query {i} failed: Lost connection to MySQL server", "error")
            for i in range(60)])
    ingest([line(13 + i / 60, "batch", f"export {i} failed: permission denied", "error", "ops-host")
            for i in range(60)])
    results = cycles(db, graph, -1, 16)
    incidents = incident_sql.listing(db)
    assert len(incidents) == 2
    by_first = {i["services"][0] if len(i["services"]) == 1 else "merged": i for i in incidents}
    merged = next(i for i in incidents if "mariadb" in i["services"])
    assert set(merged["services"]) == {"mariadb", "api"} and merged["trigger"] == "catastrophic"
    assert sorted(s["detector"] for s in incident_sql.signals(db, merged["id"])) == ["catastrophic", "error_spike",
                                                                                "new_error_template", "new_error_template"]
    assert "batch" in by_first or any(i["services"] == ["batch"] for i in incidents)
    assert sum(len(r.opened) for r in results) == 2


def _restart(minute: float, unit: str = "mariadb.service", host: str = "db-host") -> list[dict]:
    return [line(minute, "systemd", f"Stopping {unit} - MariaDB 11.8 database server...", host=host),
            line(minute + 0.2, "systemd", f"{unit}: Deactivated successfully.", host=host),
            line(minute + 0.3, "systemd", f"Stopped {unit} - MariaDB 11.8 database server.", host=host),
            line(minute + 0.6, "systemd", f"Started {unit} - MariaDB 11.8 database server.", host=host)]


def _refused(start: float, minutes: float, per_minute: int = 30) -> list[dict]:
    n = int(minutes * per_minute)
    return [line(start + i / per_minute, "api", f"query {i} failed: (2003) Can't connect to MySQL server on "
                 "'db-host' (111 Connection refused)", "error") for i in range(n)]


def test_a_planned_restart_with_transient_errors_opens_nothing(db, ingest, graph):
    load_inventory(graph, INVENTORY)
    for service, host, seed in (("mariadb", "db-host", 4), ("api", "app-host", 5)):
        ingest(background(range(-120, 30), service=service, host=host, seed=seed))
    ingest(background(range(-120, 30), service="systemd", per_minute=1, errors=(0, 0), host="db-host", seed=7))
    ingest(_restart(10) + _refused(10.1, 1.5))
    results = cycles(db, graph, -1, 25, units={"mariadb.service": "mariadb"})
    assert fired(results) == []
    assert incident_sql.listing(db) == []
    assert sum(len(r.absorbed) for r in results) >= 1          # seen, held through the grace, then let go


def test_errors_that_outlast_a_restart_open_an_incident_after_the_grace(db, ingest, graph):
    load_inventory(graph, INVENTORY)
    for service, host, seed in (("mariadb", "db-host", 4), ("api", "app-host", 5)):
        ingest(background(range(-120, 30), service=service, host=host, seed=seed))
    ingest(_restart(10) + _refused(10.1, 12))                  # a bad upgrade: it never comes back
    results = cycles(db, graph, -1, 25, units={"mariadb.service": "mariadb"})
    opened = [r for r in results if r.opened]
    assert len(opened) == 1 and len(incident_sql.listing(db)) == 1
    at = T0 + timedelta(minutes=results.index(opened[0]) - 1)
    grace = timedelta(minutes=SETTINGS.restart_grace_minutes)
    assert T0 + timedelta(minutes=10) + grace <= at <= T0 + timedelta(minutes=10) + grace + timedelta(minutes=2)


def test_a_restart_that_leaves_the_service_dead_is_not_absorbed_because_its_errors_stopped(db, ingest, graph):
    """A deploy whose new version fails to boot: a burst of its own new errors at the restart,
    then nothing, because the unit is dead. Its errors stopped with it, so "not still
    happening" must not let them go; the same burst followed by the service talking again
    does (the planned-restart test above)."""
    load_inventory(graph, INVENTORY)
    ingest(background(range(-120, 10), service="mariadb", host="db-host", seed=4))
    ingest(background(range(-120, 30), service="api", seed=5))
    ingest(_restart(10) + [line(10.7, "mariadb", f"[ERROR] InnoDB: plugin initialization aborted ({i})", "error",
                                "db-host") for i in range(3)])
    results = cycles(db, graph, -1, 25, units={"mariadb.service": "mariadb"})
    opened = [r for r in results if r.opened]
    assert len(opened) == 1
    (incident,) = incident_sql.listing(db)
    assert "mariadb" in incident["services"]
    assert any("logged nothing since" in s["message"] for s in incident_sql.signals(db, incident["id"]))
    at = T0 + timedelta(minutes=results.index(opened[0]) - 1)
    assert at <= T0 + timedelta(minutes=10 + SETTINGS.restart_grace_minutes + 2)


def test_the_same_job_at_the_same_hour_yesterday_is_habit_not_news(db, ingest):
    day = 24 * 60
    ingest(background(range(-day - 60, 40), service="batch", host="ops-host", per_minute=3, errors=(0, 0)))
    nightly = lambda start: [line(start + i / 40, "batch", f"backup chunk {i} failed verification, retrying",  # noqa: E731
                                  "error", "ops-host") for i in range(40 * 6)]
    ingest(nightly(10 - day) + nightly(10))
    assert fired(cycles(db, None, -1, 20)) == []
    ingest([line(25 + i / 40, "batch", f"export {i} failed: permission denied", "error", "ops-host")
            for i in range(200)])                               # not there yesterday: it fires
    assert {s.detector for s in fired(cycles(db, None, 21, 30))} & {"error_spike", "new_error_template"}


def test_signals_on_services_the_graph_knows_nothing_about_fold_into_one_incident(db, ingest, graph):
    load_inventory(graph, parse("""
services:
  web:    {hosts: [h1]}
  queue:  {hosts: [h2]}
  worker: {hosts: [h3]}
"""))
    for service, host, seed in (("web", "h1", 1), ("queue", "h2", 2), ("worker", "h3", 3)):
        ingest(background(range(-120, 30), service=service, host=host, seed=seed))
    ingest([line(10 + i / 60, "queue", f"publish {i} blocked: disk alarm set", "error", "h2") for i in range(120)])
    ingest([line(13 + i / 60, "worker", f"job {i} failed: no message received", "error", "h3") for i in range(120)])
    ingest([line(14 + i / 60, "web", f"request {i} failed: enqueue timed out", "error", "h1") for i in range(120)])
    cycles(db, graph, -1, 20)
    incidents = incident_sql.listing(db)
    assert len(incidents) == 1 and set(incidents[0]["services"]) == {"web", "queue", "worker"}


def _worker(minutes: range, consuming_until: float, wording: str = "consumed job {} from queue orders") -> list[dict]:
    out = []
    for m in minutes:
        out.append(line(m + 0.9, "batch", f"heartbeat ok, queue depth {m % 7}", host="ops-host"))
        if m < consuming_until:
            out += [line(m + i / 6, "batch", wording.format(m * 6 + i), host="ops-host") for i in range(6)]
    return out


def test_a_habit_that_stops_while_the_service_talks_on_is_a_signal(db, ingest):
    ingest(_worker(range(-120, 30), consuming_until=10))          # from 10:00 it only says heartbeat
    results = cycles(db, None, -1, 25)
    stopped = fired(results, "stopped")
    assert [s.service for s in stopped] == ["batch"]
    assert T0 + timedelta(minutes=10 + SETTINGS.stopped_minutes - 1) <= stopped[0].at \
        <= T0 + timedelta(minutes=10 + SETTINGS.stopped_minutes + 1)
    assert len(incident_sql.listing(db)) == 1


def test_a_line_that_changes_wording_after_a_restart_is_not_a_stopped_habit(db, ingest):
    ingest(_worker(range(-120, 10), consuming_until=10))
    ingest([line(10.1, "systemd", "Stopping batch.service - order consumer...", host="ops-host"),
            line(10.3, "systemd", "Started batch.service - order consumer.", host="ops-host")])
    ingest(_worker(range(10, 30), consuming_until=30, wording="job {} consumed (queue=orders)"))   # v2 wording
    results = cycles(db, None, -1, 25, units={"batch.service": "batch"})
    assert fired(results, "stopped") == [] and incident_sql.listing(db) == []
    assert any(s.detector == "stopped" for r in results for s in r.absorbed)


def test_a_cycle_that_fails_leaves_state_as_it_was(db, ingest, monkeypatch):
    """A crash after the incident row was written (in the same transaction) rolls it back
    with the detector state, so the next cycle redoes the same minutes."""
    ingest(background(range(-120, 30), service="mariadb", host="db-host"))
    ingest([line(7.2, "mariadb", "No space left on device", "error", "db-host")])
    cycles(db, None, -1, 6)

    def crash(*args, **kwargs):
        raise RuntimeError("process died mid-cycle")

    monkeypatch.setattr(incident_sql, "add_signal", crash)
    with pytest.raises(RuntimeError):
        run_cycle(db, None, SETTINGS, T0 + timedelta(minutes=9))
    monkeypatch.undo()
    assert incident_sql.listing(db) == []
    retry = run_cycle(db, None, SETTINGS, T0 + timedelta(minutes=9))
    assert len(retry.opened) == 1 and retry.minutes == 3


def test_two_processes_run_each_cycle_once(db_urls, db, ingest):
    ingest(background(range(-120, 30), service="mariadb", host="db-host"))
    ingest([line(7.2, "mariadb", "No space left on device", "error", "db-host")])
    run_cycle(db, None, SETTINGS, T0 + timedelta(minutes=5))
    code = ("import json, sys; from datetime import datetime; from db.pool import Database; "
            "from db.settings import DBUrl; from detectors.cycle import run_cycle; "
            "from detectors.settings import DetectorSettings; "
            "r = run_cycle(Database(DBUrl.parse(sys.argv[1])), None, DetectorSettings(), "
            "datetime.fromisoformat(sys.argv[2])); print(json.dumps(r.as_dict()))")
    at = (T0 + timedelta(minutes=9)).isoformat()
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db_urls[0]), at], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert sorted(len(o["opened"]) for o in outputs) == [0, 1]
    assert len(incident_sql.listing(db)) == 1


def test_a_cycle_on_another_database_does_not_skip_this_one(db, base_urls):
    """Bug (found when an LLM eval ran beside the test suite: a golden case saw no incident):
    the detector lock `devmesh_detectors` is a MariaDB named lock, which is server-wide, so a
    cycle holding it in one database made a cycle in any other database on that server skip
    (ran=False). Fix: the lock's name carries the database."""
    from db import detector_sql
    from db.pool import Database
    from tests.conftest import _create_database, _drop_database

    other_name = _create_database(base_urls[0])
    other = Database(base_urls[0].with_database(other_name))
    try:
        with other.connection() as conn:
            cur = conn.cursor()
            assert detector_sql.try_lock(cur, "devmesh_detectors")        # the other deployment's cycle
            try:
                assert run_cycle(db, None, SETTINGS, T0).ran
            finally:
                detector_sql.release_lock(cur, "devmesh_detectors")
    finally:
        other.close()
        _drop_database(base_urls[0], other_name)
