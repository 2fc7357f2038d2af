"""Issue 20: scale-out on a real 3-node MariaDB Galera cluster (db/local/galera.py).

Two `devmesh serve` processes on two different nodes of one cluster, started at once on a
fresh database (both migrate: the migration lease), one detector leader between them (the
detector lease), a fault sent through both opens one incident; then ingest streams through
both servers while the leader's node is SIGKILLed and rejoins by state transfer: the other
server takes the lead, and every record is stored once on every node (counted by content
hash). Where Galera cannot run the test fails and says how to fix it; it is never skipped.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from db import leases
from db.local.galera import GaleraCluster, GaleraUnavailable
from db.migrate import available
from db.pool import Database
from db.settings import DBUrl
from evals.live import LiveServer, wait_until

CREDS = {"app_user": "devmesh", "app_password": "pw-galera", "ro_user": "devmesh_ro", "ro_password": "pw-galera-ro"}
LEASE_S = 5          # the detector lease: the follower takes over this long after the leader's node dies


@pytest.fixture
def cluster(services, tmp_path):
    try:
        galera = GaleraCluster(tmp_path / "galera", services.cache_dir)
    except GaleraUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        galera.start()
        galera.provision(CREDS)
        yield galera
    finally:
        galera.stop()


def url(node) -> DBUrl:
    return DBUrl(CREDS["app_user"], CREDS["app_password"], "127.0.0.1", node.port, "devmesh")


def cycles(server: LiveServer) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^devmesh_detector_cycles_total\{outcome="(\w+)"\} (\S+)$', text, re.M)}


def ran(server: LiveServer) -> float:
    return cycles(server).get("ran", 0.0)


def record(ts: datetime, message: str, level: str = "info", service: str = "ledger", host: str = "app-1") -> dict:
    return {"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "host": host, "service": service,
            "message": message, "level": level}


def post(server: LiveServer, logs: list[dict]) -> dict:
    response = httpx.post(f"{server.url}/ingest/logs", json={"logs": logs}, timeout=15)
    response.raise_for_status()
    return response.json()


class Stream(threading.Thread):
    """Batches of distinct lines to one server until stopped; a batch that fails (503 while
    its node is down, a timeout) is sent again, as a shipper does."""

    def __init__(self, server: LiveServer, name: str):
        super().__init__(daemon=True)
        self.server, self.name = server, name
        self.sent: set[str] = set()
        self.accepted_at: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            batch = [record(now, f"request {self.name}-{n + i} served in {i % 40}ms") for i in range(20)]
            while True:
                try:
                    post(self.server, batch)
                    break
                except httpx.HTTPError:
                    self.failures += 1
                    self.stop.wait(0.1)
            self.sent.update(r["message"] for r in batch)
            self.accepted_at.append(time.monotonic())
            n += len(batch)
            self.stop.wait(0.05)


def test_two_servers_on_a_galera_cluster_one_leader_one_incident_nothing_lost(cluster, tmp_path):
    t0 = time.monotonic()
    graph = f"devmesh_galera_{uuid.uuid4().hex[:8]}"
    env = {"DEVMESH_DETECT_INTERVAL_S": "0.3", "DEVMESH_DETECT_LEASE_S": str(LEASE_S),
           "DEVMESH_DETECT_LEARNING_MINUTES": "0", "DEVMESH_GRAPH_NAME": graph}
    witness = Database(url(cluster.nodes[2]))          # node 2 carries no server and is never killed
    with witness.connection() as conn:                 # hold the detectors off while the fault is sent
        conn.cursor().execute(leases.TABLE_DDL)
        assert leases.acquire(conn, "devmesh_detectors", 60, owner="the-test")
    servers = [LiveServer(str(url(node)), tmp_path / f"server{i}.log", env) for i, node in enumerate(cluster.nodes[:2])]
    starting = [threading.Thread(target=s.start) for s in servers]   # both migrate at once
    for t in starting:
        t.start()
    for t in starting:
        t.join(90)
    streams: list[Stream] = []
    try:
        assert all(s.proc and s.proc.poll() is None for s in servers)
        n = len(available())
        assert witness.fetchone("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations") == (n, n)
        wait_until(lambda: all(cycles(s).get("skipped", 0) >= 2 for s in servers), 30, "both servers skip")
        assert [ran(s) for s in servers] == [0, 0]                   # a lease held elsewhere is respected

        # the fault, sent through both servers, in the minute that just ended (the first cycle's
        # live minute); a minute about to turn is waited out so it stays the last complete one
        if datetime.now().second >= 55:
            minute = datetime.now().minute
            wait_until(lambda: datetime.now().minute != minute, 10, "the next minute")
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        fault_minute = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
        background = [record(fault_minute - timedelta(minutes=2) + timedelta(seconds=3 * i),
                             f"request base-{i} served in {i % 40}ms") for i in range(60)]
        fault = [record(fault_minute + timedelta(seconds=5 + i), "Out of memory: Killed process 4242 (ledger) "
                        f"total-vm:{9000 + i}kB", "critical") for i in range(6)]
        first = post(servers[0], background[:30] + fault)
        second = post(servers[1], background[30:] + fault)           # the same fault lines again
        assert (first["accepted"], second["accepted"], second["duplicates"]) == (36, 30, 6)
        with witness.connection() as conn:
            leases.release(conn, "devmesh_detectors", owner="the-test")
        wait_until(lambda: sum(ran(s) for s in servers) >= 3, 30, "a leader's cycles")
        counts = [ran(s) for s in servers]
        leader = 0 if counts[0] else 1
        follower = 1 - leader
        assert counts[follower] == 0, counts                           # exactly one leader
        holder = witness.fetchone("SELECT owner FROM leases WHERE name = 'devmesh_detectors'")[0]
        assert f":{servers[leader].proc.pid}:" in holder
        wait_until(lambda: witness.fetchone("SELECT COUNT(*) FROM incidents")[0] >= 1, 30, "the incident")

        streams = [Stream(s, f"s{i}") for i, s in enumerate(servers)]
        for s in streams:
            s.start()
        wait_until(lambda: all(len(s.accepted_at) >= 3 for s in streams), 30, "ingest through both")
        assert ran(servers[follower]) == 0
        cluster.nodes[leader].kill()                                   # the leader's node dies
        killed_at = time.monotonic()
        wait_until(lambda: ran(servers[follower]) > 0, 30, "the follower taking the lead")
        took_over_s = time.monotonic() - killed_at
        cluster.nodes[leader].start(donor="node2")                     # rejoins by state transfer
        cluster.wait_size(3)
        rejoined_at = time.monotonic()
        wait_until(lambda: streams[leader].accepted_at[-1] > rejoined_at, 30, "ingest through the rejoined node")
        old_leader_ran = ran(servers[leader])
        skipped = cycles(servers[leader]).get("skipped", 0)
        wait_until(lambda: cycles(servers[leader]).get("skipped", 0) >= skipped + 2, 30, "the old leader following")
        for s in streams:
            s.stop.set()
        for s in streams:
            s.join(30)
        assert streams[leader].failures > 0                            # its node really was gone
        assert ran(servers[leader]) == old_leader_ran                  # the old leader now follows

        sent = set().union(*(s.sent for s in streams)) | {r["message"] for r in background + fault}
        for node in cluster.nodes:                                     # every node holds every row once
            db = Database(url(node))
            total, hashes = db.fetchone("SELECT COUNT(*), COUNT(DISTINCT log_hash) FROM log_events")
            messages = {m for (m,) in db.fetchall("SELECT message FROM log_events")}
            incidents = db.fetchone("SELECT COUNT(*) FROM incidents")[0]
            db.close()
            assert (total, hashes) == (len(sent), len(sent)), node.index
            assert messages == sent
            assert incidents == 1                                      # one fault, one incident
        print(f"galera test: {time.monotonic() - t0:.1f} s, takeover {took_over_s:.1f} s, "
              f"{len(sent)} rows, {streams[leader].failures} retried batches")
    finally:
        for s in streams:
            s.stop.set()
        for s in servers:
            s.stop()
        witness.close()
        from db.graph import Graph
        from db.settings import GraphSettings
        handle = Graph(GraphSettings().resolved_url(), graph)
        handle.drop()
        handle.close()


def test_the_root_holds_galera_and_a_root_without_it_is_completed_by_apt(services, tmp_path):
    """A cached root already holding galera-4 and the SST tools is left alone (no apt run); one
    that lacks them gets apt-get inside it, and a failure says what failed (here an empty
    directory stands for a broken root: there is no apt-get to run in it)."""
    from db.local import mariadb_server as maria
    from db.local.process import ServiceError

    root = maria.ensure_root(services.cache_dir)
    assert maria.missing_galera(root) == []
    maria.ensure_galera(root, services.cache_dir)                      # nothing to do: returns at once
    broken = tmp_path / "root"
    broken.mkdir()
    assert maria.missing_galera(broken) == list(maria.GALERA_FILES)
    with pytest.raises(ServiceError, match="apt-get inside"):
        maria.ensure_galera(broken, tmp_path)
