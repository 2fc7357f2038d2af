"""Alertmanager webhooks open and close incidents; retention deletes what is old and keeps
what incidents cite."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

import server
from db import incidents as incident_sql
from ingest.pipeline import Ingestor
from ingest.retention import RetentionSettings, prune
from tests.conftest import make_settings


def webhook(status: str, fingerprint: str = "c3a5e1f09b3e2d11") -> dict:
    """The body Alertmanager's webhook_config posts (version 4)."""
    return {"version": "4", "groupKey": '{}:{alertname="MariaDBDown"}', "truncatedAlerts": 0, "status": status,
            "receiver": "devmesh", "groupLabels": {"alertname": "MariaDBDown"},
            "commonLabels": {"alertname": "MariaDBDown", "severity": "critical"},
            "commonAnnotations": {"summary": "MariaDB is not answering"}, "externalURL": "http://alertmanager:9093",
            "alerts": [{"status": status, "labels": {"alertname": "MariaDBDown", "job": "mysqld",
                                                      "instance": "mariadb-vm:9104", "severity": "critical"},
                        "annotations": {"summary": "MariaDB is not answering"},
                        "startsAt": "2026-01-20T10:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-20T10:20:00Z",
                        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22mysqld%22%7D+%3D%3D+0",
                        "fingerprint": fingerprint}]}


def test_alertmanager_opens_one_incident_per_alert_and_resolved_closes_it(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("services:\n  mariadb: {hosts: [mariadb-vm], aliases: [mysqld]}\n")
    settings = make_settings(db_urls, inventory)
    app = server.create_app(settings)
    try:
        with TestClient(app) as c:
            first = c.post("/alerts/alertmanager", json=webhook("firing")).json()
            assert len(first["opened"]) == 1 and first["duplicates"] == 0
            again = c.post("/alerts/alertmanager", json=webhook("firing")).json()
            assert again == {"opened": [], "closed": [], "duplicates": 1, "rejected": []}
            incident = c.get(f"/incidents/{first['opened'][0]}").json()
            assert (incident["trigger"], incident["service"], incident["host"], incident["severity"]) == (
                "alert", "mariadb", "mariadb-vm", "critical")
            assert incident["title"] == "alert MariaDBDown: MariaDB is not answering"
            deadline = time.monotonic() + 20
            while c.get(f"/incidents/{first['opened'][0]}").json()["status"] != "reported" and time.monotonic() < deadline:
                time.sleep(0.05)
            resolved = c.post("/alerts/alertmanager", json=webhook("resolved")).json()
            assert resolved["closed"] == first["opened"]
            assert c.get(f"/incidents/{first['opened'][0]}").json()["state"] == "resolved"
            reopened = c.post("/alerts/alertmanager", json=webhook("firing")).json()
            assert len(reopened["opened"]) == 1 and reopened["opened"] != first["opened"]
            assert c.post("/alerts/alertmanager", json={"alerts": "x"}).status_code == 400
    finally:
        app.state.graph.drop()


def test_retention_deletes_old_rows_in_chunks_and_keeps_cited_templates(db):
    now = datetime(2026, 3, 1, 12, 0)
    old = [{"timestamp": (now - timedelta(days=30, minutes=i)).isoformat() + "Z", "host": "h", "service": "s",
            "message": f"old kind {chr(97 + i % 3)} happened"} for i in range(30)]
    cited_line = [{"timestamp": (now - timedelta(days=30)).isoformat() + "Z", "host": "h", "service": "s",
                   "message": "the one an incident cites"}]
    fresh = [{"timestamp": (now - timedelta(hours=1, minutes=i)).isoformat() + "Z", "host": "h", "service": "s",
              "message": f"new line {i}"} for i in range(5)]
    Ingestor(db).ingest(old + cited_line + fresh)
    cited = db.fetchone("SELECT id FROM log_templates WHERE template = 'the one an incident cites'")[0]
    with db.transaction() as cur:
        incident_id = incident_sql.open_incident(cur, "t", "manual", "error", "s", "h", ["s"], now, now, now)
        incident_sql.add_signal(cur, incident_id, "catastrophic", "s", "h", "error", now, "m", [cited])
    result = prune(db, RetentionSettings(events_days=14, rollups_days=14), now)
    assert result == {"events": 31, "rollups": db.fetchone("SELECT 0")[0] + result["rollups"], "templates": 3}
    assert result["rollups"] > 0
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 5
    remaining = {r[0] for r in db.fetchall("SELECT template FROM log_templates")}
    assert remaining == {"new line <NUM>", "the one an incident cites"}
