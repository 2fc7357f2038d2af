"""Issue 24 (2): what an Alertmanager alert is about, through the inventory.

Bug: node-exporter's standard `HostDiskFull` (`instance="mariadb-vm:9100", job="node"`)
opened an incident on a service called "node" (the scrape job), which logs nothing: the
investigation had nothing to look at, confidence 0, an empty report. Fix
(graphs/alert_labels.py): `instance`'s host (port stripped, by name or address) and the
service labels (`job`, `pod`, `unit`, ...) go through the inventory; exporters' jobs never
name a service; an alert about a host covers the services on that host.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import server
from evals.scenarios import CASCADE_INVENTORY, cascade
from graphs.alert_labels import AlertSubject, strip_address, subject
from graphs.worker import InvestigationSettings, run_one
from ingest.inventory import load, parse
from ingest.service_map import ServiceMap
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parent.parent
FLEET = load(REPO / "inventory.yaml")
ON_MARIADB_VM = sorted(s.name for s in FLEET.services.values() if "mariadb-vm" in s.hosts)


def about(**labels) -> AlertSubject:
    return subject(labels, FLEET, ServiceMap(FLEET))


def test_a_host_level_alert_is_about_the_host_and_its_services():
    disk = about(alertname="HostDiskFull", instance="mariadb-vm:9100", job="node", severity="critical")
    assert (disk.service, disk.host) == (None, "mariadb-vm")
    assert disk.services == ON_MARIADB_VM and "mariadb" in disk.services and "node" not in disk.services
    assert about(alertname="HostDiskFull", instance="10.0.0.18:9100", job="node").host == "mariadb-vm"   # by address
    assert about(instance="http://MariaDB-VM.lan:9100/metrics", job="node_exporter").host == "mariadb-vm"
    assert about(instance="[fe80::1]:9100", job="node") == AlertSubject(None, "fe80::1", [])       # unknown: kept


def test_service_labels_go_through_the_inventory():
    assert about(alertname="MariaDBDown", job="mysqld", instance="mariadb-vm:9104") == AlertSubject(
        "mariadb", "mariadb-vm", ["mariadb"])
    assert about(alertname="SystemdUnitFailed", name="litellm.service", instance="llm-gw:9100", job="node") \
        == AlertSubject("llm-gateway", "llm-gw", ["llm-gateway"])
    assert about(alertname="OllamaDown", namespace="llm", pod="ollama-gpu2-7d9f8b6c4-x2x9z",
                 instance="10.0.0.42:11434").service == "ollama-gpu2"
    assert about(alertname="Unit", unit="ollama.service", instance="gpu-node-2:9100").service == "ollama-gpu2"


def test_unknown_names_are_kept_but_no_service_is_invented_from_an_exporter_job():
    assert about(alertname="X", service="payments", instance="pay-1:8080") == AlertSubject(
        "payments", "pay-1", ["payments"])
    assert about(alertname="HostDown", job="node", instance="laptop:9100") == AlertSubject(None, "laptop", [])
    assert about(alertname="TooManyErrors", job="checkout") == AlertSubject("checkout", None, ["checkout"])
    assert about(alertname="NodeJobMissing", job="node") == AlertSubject(None, None, [])
    assert subject({"job": "node", "instance": "db-1:9100"}, None, None) == AlertSubject(None, "db-1", [])


@pytest.mark.parametrize("value,bare", [("mariadb-vm:9100", "mariadb-vm"), ("10.0.0.18", "10.0.0.18"),
                                        ("https://user@edge.example:443/x", "edge.example"), ("[::1]:9100", "::1"),
                                        ("fe80::1", "fe80::1")])
def test_strip_address(value, bare):
    assert strip_address(value) == bare


def host_disk_full(status: str = "firing") -> dict:
    """node-exporter's HostDiskFull exactly as Alertmanager's webhook_config posts it (version 4)."""
    labels = {"alertname": "HostDiskFull", "device": "/dev/vdb1", "fstype": "ext4", "instance": "db-host:9100",
              "job": "node", "mountpoint": "/var/lib/mysql", "severity": "critical"}
    return {"receiver": "devmesh", "status": status, "alerts": [{
        "status": status, "labels": labels,
        "annotations": {"summary": "Host disk is almost full (instance db-host:9100)",
                        "description": "Disk is almost full (< 10% left)\n  VALUE = 2.1\n  LABELS = map[...]"},
        "startsAt": "2026-01-20T10:01:00Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes&g0.tab=1",
        "fingerprint": "5b3a7e1c9d2f4a60"}],
        "groupLabels": {"alertname": "HostDiskFull"}, "commonLabels": labels,
        "commonAnnotations": {"summary": "Host disk is almost full (instance db-host:9100)"},
        "externalURL": "http://alertmanager:9093", "version": "4",
        "groupKey": '{}:{alertname="HostDiskFull"}', "truncatedAlerts": 0}


def test_host_disk_full_opens_an_incident_on_the_host_and_its_report_names_the_database(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(CASCADE_INVENTORY)
    on_host = sorted(s.name for s in parse(CASCADE_INVENTORY).services.values() if "db-host" in s.hosts)
    settings = make_settings(db_urls, inventory, investigate=InvestigationSettings(workers=0, poll_s=0.1))
    app = server.create_app(settings)
    try:
        with TestClient(app) as c:
            assert c.post("/ingest/logs", json={"logs": cascade()}).json()["rejected"] == []
            opened = c.post("/alerts/alertmanager", json=host_disk_full()).json()
            assert len(opened["opened"]) == 1, opened
            incident_id = opened["opened"][0]
            incident = c.get(f"/incidents/{incident_id}").json()
            assert (incident["service"], incident["host"]) == (None, "db-host")
            assert incident["services"] == on_host == ["kernel", "mariadb"]
            assert run_one(app.state.investigations.ctx, settings.investigate) == incident_id   # here, not in a thread
            report = c.get(f"/incidents/{incident_id}").json()["report"]
            assert report["confidence"] > 0 and report["markdown"].strip()
            assert report["candidates"][0]["service"] == "mariadb", report["candidates"][:3]
    finally:
        app.state.graph.drop()
