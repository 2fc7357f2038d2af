"""The client commands against a real `devmesh serve` (issue 24, 3): `--url`/`--token`
(DEVMESH_URL, DEVMESH_TOKEN, DEVMESH_CHAT_TOKEN), `incidents show|ack|resolve|snooze`,
`event`, and `chat` exiting 1 when the answer failed. Each runs `.venv/bin/devmesh` as a
user does; a failure is one line on stderr, never a traceback."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from evals.live import LiveServer, free_port, wait_until

REPO = Path(__file__).resolve().parent.parent
DEVMESH = Path(sys.executable).parent / "devmesh"
TOKEN = "t0ken-cli"


def devmesh(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEVMESH_")}
    return subprocess.run([str(DEVMESH), *args], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**clean, **(env or {})})


def failed(out: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status non-zero, no traceback, and one `Error:` line that names the problem."""
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, out.stderr
    for word in words:
        assert word in errors[0], out.stderr


class Hook(BaseHTTPRequestHandler):
    """A webhook receiver on loopback (the server's notifications land here)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def live(db_urls, tmp_path, services):
    from db.graph import Graph
    from db.settings import GraphSettings

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    server = LiveServer(str(db_urls[0]), tmp_path / "server.log", {
        "DEVMESH_API_TOKENS": TOKEN, "DEVMESH_NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{hook.server_port}/hook"}).start()
    yield server
    server.stop()
    hook.shutdown()
    graph = Graph(GraphSettings().resolved_url(services), server.env["DEVMESH_GRAPH_NAME"])
    graph.drop()
    graph.close()


def test_incident_lifecycle_and_show_through_the_cli(live, db):
    env = {"DEVMESH_URL": live.url, "DEVMESH_TOKEN": TOKEN}
    http = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    incident_id = http.post("/incidents", json={"service": "mariadb", "title": "mariadb is down"}).json()["id"]
    wait_until(lambda: http.get(f"/incidents/{incident_id}").json()["status"] == "reported", 60, "the report")
    reports = db.fetchone("SELECT COUNT(*) FROM incident_reports WHERE incident_id = ?", (incident_id,))[0]

    shown = devmesh("incidents", "show", str(incident_id), env=env)
    assert shown.returncode == 0, shown.stderr
    full = http.get(f"/incidents/{incident_id}").json()
    assert full["report"]["markdown"].strip() in shown.stdout
    assert f"incident {incident_id}: mariadb is down" in shown.stdout and "signals (0):" in shown.stdout
    as_json = json.loads(devmesh("incidents", "show", str(incident_id), "--json", env=env).stdout)
    assert as_json["report"]["id"] == full["report"]["id"] and as_json["id"] == incident_id
    assert db.fetchone("SELECT COUNT(*) FROM incident_reports WHERE incident_id = ?",
                       (incident_id,))[0] == reports                           # read, not re-run

    acked = devmesh("incidents", "ack", str(incident_id), env=env)
    assert acked.returncode == 0, acked.stderr
    assert http.get(f"/incidents/{incident_id}").json()["state"] == "acknowledged"
    snoozed = devmesh("incidents", "snooze", str(incident_id), "--for", "30m", "--json", env=env)
    assert snoozed.returncode == 0, snoozed.stderr
    body = json.loads(snoozed.stdout)
    until = datetime.fromisoformat(body["snoozed_until"].rstrip("Z"))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert body["state"] == "snoozed" and timedelta(minutes=29) < until - now <= timedelta(minutes=30)
    resolved = devmesh("incidents", "resolve", str(incident_id), "--url", live.url, env={"DEVMESH_TOKEN": TOKEN})
    assert resolved.returncode == 0 and "resolved" in resolved.stdout, resolved.stderr
    assert http.get(f"/incidents/{incident_id}").json()["state"] == "resolved"

    failed(devmesh("incidents", "ack", str(incident_id), env=env), "409", "invalid_transition")
    failed(devmesh("incidents", "resolve", "987654", env=env), "404", "not_found")
    failed(devmesh("incidents", "show", str(incident_id), "--url", live.url), "401", "DEVMESH_TOKEN")
    failed(devmesh("incidents", "snooze", str(incident_id), "--for", "soon", env=env), "--for")
    failed(devmesh("incidents", "show", str(incident_id), env={"DEVMESH_URL": f"http://127.0.0.1:{free_port()}"}),
           "no DevMesh server", "DEVMESH_URL")
    # the server said what it did, at INFO, with the id (its logging config keeps our modules' lines)
    log = live.log_path.read_text()
    assert re.search(rf"INFO graphs\.http: incident {incident_id}\b", log), log[-3000:]
    sent = rf"INFO agents\.notify: incident {incident_id}: webhook notification sent"
    wait_until(lambda: re.search(sent, live.log_path.read_text()), 30, "the notification's log line")


def test_event_command_opens_a_cited_line_with_its_neighbours(live, db):
    env = {"DEVMESH_URL": live.url, "DEVMESH_TOKEN": TOKEN}
    logs = [{"timestamp": f"2026-01-20T10:00:0{i}Z", "host": "db-1", "service": "mariadb", "level": "error",
             "message": f"Connection to 10.0.0.{i}:3306 refused after {i}s"} for i in range(5)]
    httpx.post(f"{live.url}/ingest/logs", json={"logs": logs}, headers={"Authorization": f"Bearer {TOKEN}"})
    ids = [r[0] for r in db.fetchall("SELECT id FROM log_events ORDER BY ts")]
    out = devmesh("event", str(ids[2]), "--context", "1", env=env)
    assert out.returncode == 0, out.stderr
    assert "Connection to 10.0.0.2:3306 refused after 2s" in out.stdout
    assert "Connection to <IP>:<NUM> refused after <DURATION>" in out.stdout
    marked = [line for line in out.stdout.splitlines() if line.startswith(">")]
    assert len(marked) == 2 and all(str(ids[2]) in line for line in marked)      # once per neighbourhood
    assert "10.0.0.1:3306" in out.stdout and "10.0.0.3:3306" in out.stdout and "10.0.0.0:3306" not in out.stdout
    as_json = json.loads(devmesh("event", str(ids[2]), "--context", "1", "--json", env=env).stdout)
    assert [e["id"] for e in as_json["neighbours"]["host"]["before"]] == [ids[1]]
    failed(devmesh("event", "987654321", env=env), "404", "not_found", "987654321")
    failed(devmesh("event", "0", env=env), "EVENT_ID")


def test_chat_exits_1_when_the_answer_failed(db_urls, tmp_path):
    """Issue 24 (3), bug: `devmesh chat` exited 0 when the server sent an `error` event.
    Here the planner's LLM is a closed port, so the answer fails on the server."""
    closed = free_port()
    server = LiveServer(str(db_urls[0]), tmp_path / "chat.log", {
        "DEVMESH_API_TOKENS": TOKEN, "DEVMESH_LLM_BACKEND": "openai",
        "DEVMESH_LLM_URL": f"http://127.0.0.1:{closed}/v1", "DEVMESH_LLM_MODEL": "none"}).start()
    try:
        out = devmesh("chat", "tell me a joke", env={"DEVMESH_URL": server.url, "DEVMESH_CHAT_TOKEN": TOKEN})
        failed(out, "could not answer")
        assert "[error]" in out.stderr
        ok = devmesh("chat", "show me the open incidents", env={"DEVMESH_URL": server.url, "DEVMESH_TOKEN": TOKEN})
        assert ok.returncode == 0, ok.stderr
    finally:
        server.stop()
