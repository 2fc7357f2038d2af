"""Issue 24 (2): every way in maps services the same way.

Bug: `devmesh import` (files and Loki) built its Ingestor without the service map, so
imported lines kept raw names (`litellm.service`, `CRON`) while the same lines posted over
HTTP were stored as `llm-gateway` and `cron`; the chat then found "no errors" for a service
whose errors were stored under another name. Fix: the import commands build their Ingestor
as the server does (ingest/cli._ingestor: the inventory published in MariaDB, else the
configured file; learned templates resolve). These tests import the same lines both ways
into two databases and compare what was stored, line by line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import respx
from click.testing import CliRunner
from fastapi.testclient import TestClient

import server
from db import inventory as inventory_sql
from db.pool import Database
from ingest.formats import parse_line
from tests.conftest import make_settings, migrated_database

REPO = Path(__file__).resolve().parent.parent
INVENTORY = REPO / "inventory.yaml"

LINES = [
    json.dumps({"__REALTIME_TIMESTAMP": "1768903200000000", "_HOSTNAME": "llm-gw", "_SYSTEMD_UNIT": "litellm.service",
                "PRIORITY": "3", "MESSAGE": "litellm.APIConnectionError: OllamaException - Cannot connect to host "
                "10.0.0.41:11434", "_PID": "901", "__CURSOR": "s=1"}),
    json.dumps({"__REALTIME_TIMESTAMP": "1768903201000000", "_HOSTNAME": "gpu-node-2", "_SYSTEMD_UNIT": "ollama.service",
                "PRIORITY": "6", "MESSAGE": "llama runner started in 2.51 seconds", "_PID": "77", "__CURSOR": "s=2"}),
    "Jan 20 10:00:02 mariadb-vm CRON[1234]: (root) CMD (/usr/local/bin/backup.sh)",
    "Jan 20 10:00:03 dev-services mysqld[812]: [Warning] Aborted connection 42 to db: 'devmesh'",
    json.dumps({"timestamp": "2026-01-20T10:00:04Z", "host": "laptop", "service": "spotify", "message": "track 3"}),
]
MAPPED = {"llm-gw": "llm-gateway", "gpu-node-2": "ollama-gpu2", "mariadb-vm": "cron", "dev-services": "mariadb",
          "laptop": "spotify"}                                   # an unknown service keeps its name


@pytest.fixture
def other_db_url(base_urls):
    """A second fresh, migrated database (the first is the app's): the file import's."""
    rw, _ = base_urls
    with migrated_database(rw) as name:
        yield rw.with_database(name)


def stored(database: Database) -> list[tuple]:
    return [tuple(r) for r in database.fetchall(
        "SELECT ts, message, service, host, template_id FROM log_events ORDER BY ts, message")]


def run_cli(args, env):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **env}, timeout=120)


def test_file_import_stores_what_http_ingest_stores(db_urls, db, other_db_url, tmp_path):
    app = server.create_app(make_settings(db_urls, INVENTORY))
    try:
        with TestClient(app) as c:
            answer = c.post("/ingest/logs", json={"logs": [parse_line(line) for line in LINES]})
            assert answer.status_code == 200 and answer.json()["accepted"] == len(LINES)
    finally:
        app.state.graph.drop()
    over_http = stored(db)
    assert {host: service for _, _, service, host, _ in over_http} == MAPPED

    logs = tmp_path / "fleet.log"
    logs.write_text("\n".join(LINES) + "\n")
    out = run_cli(["import", str(logs)], {"DEVMESH_DB_URL": str(other_db_url), "DEVMESH_INVENTORY": str(INVENTORY)})
    assert out.returncode == 0, out.stderr
    totals = json.loads(out.stdout.strip().splitlines()[-1])
    assert (totals["accepted"], totals["unmapped"]) == (len(LINES), 1)
    imported = Database(other_db_url)
    try:
        assert stored(imported) == over_http                      # (ts, message, service, host, template) per line
    finally:
        imported.close()


def test_import_maps_with_the_published_inventory_first(other_db_url, tmp_path):
    """A server that loaded an inventory published it; an import on the same database maps
    with that one even when its own DEVMESH_INVENTORY file does not exist."""
    target = Database(other_db_url)
    try:
        inventory_sql.publish(target, "published", "services:\n  gateway: {hosts: [llm-gw], units: [litellm.service]}\n")
        logs = tmp_path / "one.log"
        logs.write_text(LINES[0] + "\n" + LINES[2] + "\n")
        out = run_cli(["import", str(logs)], {"DEVMESH_DB_URL": str(other_db_url),
                                              "DEVMESH_INVENTORY": str(tmp_path / "absent.yaml")})
        assert out.returncode == 0, out.stderr
        assert dict(target.fetchall("SELECT host, service FROM log_events")) == {"llm-gw": "gateway",
                                                                                "mariadb-vm": "CRON"}
    finally:
        target.close()


def test_a_bad_inventory_stops_the_import_with_its_problems(other_db_url, tmp_path):
    bad = tmp_path / "inventory.yaml"
    bad.write_text("services:\n  a: {depends_on: [nope]}\n")
    logs = tmp_path / "one.log"
    logs.write_text(LINES[0] + "\n")
    out = run_cli(["import", str(logs)], {"DEVMESH_DB_URL": str(other_db_url), "DEVMESH_INVENTORY": str(bad)})
    assert out.returncode != 0 and "unknown service 'nope'" in out.stderr and "Traceback" not in out.stderr


STREAMS = [{"stream": {"host": "llm-gw", "unit": "litellm.service", "level": "error"},
            "values": [["1768903200000000000", "Cannot connect to host 10.0.0.41:11434"]]},
           {"stream": {"host": "mariadb-vm", "job": "CRON"},
            "values": [["1768903202000000000", "(root) CMD (/usr/local/bin/backup.sh)"]]}]


@respx.mock
def test_loki_import_stores_what_loki_push_stores(db_urls, db, other_db_url, tmp_path):
    app = server.create_app(make_settings(db_urls, INVENTORY))
    try:
        with TestClient(app) as c:
            assert c.post("/loki/api/v1/push", json={"streams": STREAMS}).status_code == 204
    finally:
        app.state.graph.drop()
    pushed = [(ts, m, s, h, t) for ts, m, s, h, t in stored(db)]
    assert {h: s for _, _, s, h, _ in pushed} == {"llm-gw": "llm-gateway", "mariadb-vm": "cron"}

    respx.get("http://loki.test:3100/loki/api/v1/query_range").mock(return_value=httpx.Response(200, json={
        "status": "success", "data": {"resultType": "streams", "result": STREAMS}}))
    result = CliRunner().invoke(server.main, [
        "import", "loki", "--url", "http://loki.test:3100", "--query", '{host=~".+"}',
        "--since", "2026-01-20T09:00:00Z", "--until", "2026-01-20T11:00:00Z", "--state", str(tmp_path / "s.json")],
        env={"DEVMESH_DB_URL": str(other_db_url), "DEVMESH_INVENTORY": str(INVENTORY)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    pulled = Database(other_db_url)
    try:
        assert stored(pulled) == pushed
    finally:
        pulled.close()
