"""Chat: the router's rule table row by row, windows, the graph's shape, and the SSE
contract over a real streaming HTTP client (no LLM: answers cite real template ids)."""
from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest

from evals.live import LiveServer
from graphs.chat import CHAT
from graphs.chat_router import Entities, extract, route, window
from ingest.inventory import parse

NOW = datetime(2026, 1, 20, 15, 30)
INVENTORY = parse("""
services:
  mariadb: {hosts: [db-1], aliases: [mysql]}
  api: {hosts: [app-1], depends_on: [mariadb]}
""")


@pytest.mark.parametrize("question, expected", [
    ("investigate mariadb now", "investigate"),
    ("what about incident 12?", "incident"),
    ("show me the open incidents", "incident"),
    ('anything like "Connection to 10.0.0.1:3306 refused after 3s"?', "similar"),
    ("what changed on the api since 14:00?", "changed"),
    ("what is the blast radius of mysql", "dependencies"),
    ("what depends on mariadb?", "dependencies"),
    ("errors on api in the last hour", "errors"),
    ("why is the api failing", "errors"),
    ("how is mariadb doing", "overview"),
    ("status of db-1", "overview"),
    ("tell me a joke", "planner"),
])
def test_rule_table(question, expected):
    assert route(question, extract(question, INVENTORY, NOW)) == expected


def test_entities_and_windows():
    e = extract("errors on mysql and app-1 since yesterday 18:00, incident #7", INVENTORY, NOW)
    assert e.services == ["mariadb"] and e.hosts == ["app-1"] and e.incident_id == 7
    assert (e.since, e.until) == (datetime(2026, 1, 19, 18, 0), NOW)
    assert window("in the last 3 hours", NOW)[0] == datetime(2026, 1, 20, 12, 30)
    assert window("yesterday", NOW)[:2] == (datetime(2026, 1, 19), datetime(2026, 1, 20))
    assert window("since 18:00", NOW)[0] == datetime(2026, 1, 19, 18, 0)       # 18:00 has not come yet today
    assert route("hello", Entities()) == "planner"


def test_graph_shape():
    mermaid = CHAT.get_graph().draw_mermaid(with_styles=False)
    for route_name in ("overview", "errors", "changed", "similar", "dependencies", "incident", "investigate",
                       "planner"):
        assert f"route -.-> {route_name};" in mermaid and f"{route_name} --> answer;" in mermaid
    assert "__start__ --> route;" in mermaid and "answer --> __end__;" in mermaid


def sse(url: str, question: str, thread: str | None = None) -> list[tuple[str, dict]]:
    events, name = [], None
    with httpx.stream("POST", f"{url}/chat", json={"question": question, "thread_id": thread}, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    return events


def test_sse_contract_and_threads(db_urls, db, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("services:\n  mariadb: {hosts: [db-1], aliases: [mysql]}\n")
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log", env={"DEVMESH_INVENTORY": str(inventory)}).start()
    try:
        now = datetime.utcnow().replace(microsecond=0)
        httpx.post(f"{live.url}/ingest/logs", json={"logs": [
            {"timestamp": now.isoformat() + "Z", "host": "db-1", "service": "mariadb", "level": "error",
             "message": f"[ERROR] InnoDB: Write to file ./ibdata1 failed at offset {i}: No space left on device"}
            for i in range(3)]}).raise_for_status()
        events = sse(live.url, "errors on mysql in the last hour")
        names = [e for e, _ in events]
        assert names[0] == "route" and names[-1] == "done" and "answer" in names
        assert names.index("tool") < names.index("answer")
        assert events[0][1]["route"] == "errors" and events[0][1]["entities"] == ["mariadb"]
        answer = dict(events)["answer"]
        assert "No LLM wrote this answer" in answer["markdown"]
        cited = [int(c.split(":")[1]) for c in answer["citations"] if c.startswith("template:")]
        assert cited and all(db.fetchone("SELECT COUNT(*) FROM log_templates WHERE id = ?", (t,))[0] == 1
                             for t in cited)
        thread = dict(events)["done"]["thread_id"]
        follow = sse(live.url, "and what changed?", thread)           # no service named: the thread's is used
        assert follow[0][1]["route"] == "changed" and follow[0][1]["entities"] == ["mariadb"]
        live.stop()
        live.start()                                                    # threads survive a restart
        turns = httpx.get(f"{live.url}/chat/threads/{thread}").json()["turns"]
        assert [t["route"] for t in turns] == ["errors", "changed"]
        analyzed = httpx.post(f"{live.url}/analyze", json={"question": "tell me a joke"}).json()
        assert analyzed["route"]["route"] == "planner" and analyzed["done"]["thread_id"]
    finally:
        live.stop()
