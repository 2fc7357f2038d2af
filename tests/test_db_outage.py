"""MariaDB going away: 503 with Retry-After and nothing half-written, then recovery.

Runs a throwaway mariadbd of its own (same binary as the managed one, its own data dir and
port) so stopping it does not disturb the other tests.
"""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import server
from db.pool import Database, DatabaseUnavailable
from db.settings import DBSettings
from ingest.embedders import EmbedSettings
from ingest.pipeline import Ingestor
from retrieval.topology import TopologySettings
from tests.conftest import NO_INVENTORY, record


def test_database_down_gives_503_then_recovers_without_loss(instance):
    inst, url = instance
    settings = server.AppSettings(db=DBSettings(url=str(url)), embed=EmbedSettings(backend="hash"),
                                  topology=TopologySettings(inventory=NO_INVENTORY, infer_interval_s=0))
    with TestClient(server.create_app(settings)) as c:
        assert c.post("/ingest/logs", json={"logs": [record(i) for i in range(5)]}).json()["accepted"] == 5
        inst.stop()
        down = c.post("/ingest/logs", json={"logs": [record(i) for i in range(5, 10)]})
        assert down.status_code == 503
        assert down.headers["Retry-After"]
        assert down.json()["error"]["code"] == "database_unavailable"
        assert c.get("/health").json()["dependencies"]["mariadb"]["status"] == "down"
        inst.start()
        again = c.post("/ingest/logs", json={"logs": [record(i) for i in range(10)]}).json()
        assert (again["accepted"], again["duplicates"]) == (5, 5)
    db = Database(url)
    assert db.fetchone("SELECT COUNT(*), COUNT(DISTINCT log_hash) FROM log_events") == (10, 10)
    assert db.fetchone("SELECT SUM(count) FROM template_counts")[0] == 10
    db.close()


def test_a_batch_failing_mid_transaction_leaves_nothing(instance):
    """The rollup upsert is the last statement of a batch; make it fail and check that the
    events and templates written before it in the same transaction are rolled back."""
    inst, url = instance
    conn = inst.root_connection()
    cur = conn.cursor()
    cur.execute("CREATE USER 'norollup'@'127.0.0.1' IDENTIFIED BY 'pw'")
    for table in ("log_events", "log_templates"):
        cur.execute(f"GRANT SELECT, INSERT, UPDATE ON devmesh.{table} TO 'norollup'@'127.0.0.1'")
    cur.execute("GRANT SELECT ON devmesh.template_counts TO 'norollup'@'127.0.0.1'")
    conn.close()
    limited = Database(url.with_user("norollup", "pw"))
    with pytest.raises(Exception) as failure:
        Ingestor(limited).ingest([record(i) for i in range(20)])
    assert not isinstance(failure.value, DatabaseUnavailable)
    limited.close()
    db = Database(url)
    assert db.fetchone("SELECT (SELECT COUNT(*) FROM log_events), (SELECT COUNT(*) FROM log_templates)") == (0, 0)
    db.close()


def test_a_frozen_database_answers_503_and_health_within_seconds(instance):
    """Issue 15 (bug): with MariaDB frozen (SIGSTOP), requests and /health hung for the 60 s
    read timeout and /health then said ok. Fix: /health waits at most 2 s for each ping,
    and the server's pools time out after DEVMESH_DB_READ_TIMEOUT_S (3 here: longer than
    health's 2 s wait, so on a loaded machine the pool's own timeout cannot answer first)."""
    import os
    import signal

    from db.local.process import running_pid

    inst, url = instance
    settings = server.AppSettings(db=DBSettings(url=str(url), read_timeout_s=3), embed=EmbedSettings(backend="hash"),
                                  topology=TopologySettings(inventory=NO_INVENTORY, infer_interval_s=0,
                                                            inventory_poll_s=0))
    pid = running_pid(inst.pid_file)
    with TestClient(server.create_app(settings)) as c:
        assert c.post("/ingest/logs", json={"logs": [record(1)]}).json()["accepted"] == 1
        os.kill(pid, signal.SIGSTOP)
        try:
            health = c.get("/health")
            assert health.status_code == 503
            assert "no answer within" in health.json()["dependencies"]["mariadb"]["error"]
            frozen = c.post("/ingest/logs", json={"logs": [record(2)]})
            assert frozen.status_code == 503 and frozen.headers["Retry-After"]
        finally:
            os.kill(pid, signal.SIGCONT)
        again = c.post("/ingest/logs", json={"logs": [record(2)]})
        assert again.status_code == 200 and again.json()["accepted"] == 1
        assert c.get("/health").json()["dependencies"]["mariadb"]["status"] == "ok"
