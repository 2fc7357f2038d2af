"""Chat: the router's rule table row by row, windows, the graph's shape, and the SSE
contract over a real streaming HTTP client (no LLM: answers cite real template ids)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

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
    ("why is the api failing", "cause"),
    ("why did mysql fail?", "cause"),
    ("what's wrong right now?", "current"),
    ("anything on fire at the moment?", "current"),
    ("what is wrong with the api right now", "errors"),        # a named service: its own errors
    ("is there a runbook for disk full?", "runbook"),
    ("do we have a playbook for mariadb", "runbook"),
    ("errors since 30m", "errors"),
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


@pytest.mark.parametrize("text, minutes, said", [
    ("errors since 30m", 30, "since 30m"),
    ("errors last 30m", 30, "last 30m"),
    ("what failed in the past 2h", 120, "past 2h"),
    ("errors in the last 30 minutes", 30, "last 30 minutes"),
    ("the last hour", 60, "last hour"),
    ("since 2 hours ago", 120, "since 2 hours ago"),
    ("over the past 2 days", 2880, "past 2 days"),
    ("last 90 min on api", 90, "last 90 min"),
    ("past 45 mins", 45, "past 45 mins"),
    ("last 1w", 10080, "last 1w"),
])
def test_relative_windows_one_parser(text, minutes, said):
    """Issue 23 (bug): "since 30m" and "last 30m" were ignored silently (the answer read
    errors from 43 minutes back) while "in the last 30 minutes" worked. One parser now reads
    every relative form, and the route says which words set the window."""
    since, until, text_seen = window(text, NOW)
    assert (until - since, text_seen) == (timedelta(minutes=minutes), said)


@pytest.mark.parametrize("text", ["last month's report", "since 14:05", "the m5 node", "past due"])
def test_relative_windows_need_a_unit_they_know(text):
    since, _until, said = window(text, NOW)
    assert said is None or said == "since 14:05" and since == datetime(2026, 1, 20, 14, 5)


def test_a_role_names_its_hosts():
    inventory = parse("hosts:\n  gpu-1: {role: gpu}\n  gpu-2: {role: gpu}\n  db-1: {role: database}\n"
                      "services:\n  trainer: {hosts: [gpu-1, gpu-2]}\n  mariadb: {hosts: [db-1]}\n")
    e = extract("what is going on with the GPU nodes?", inventory, NOW)
    assert e.hosts == ["gpu-1", "gpu-2"] and e.services == []


def test_graph_shape():
    """The shape as data (nodes, edges), not as LangGraph's mermaid text."""
    edges = {(e.source, e.target, e.conditional) for e in CHAT.get_graph().edges}
    handlers = ("overview", "errors", "changed", "similar", "dependencies", "incident", "investigate", "runbook",
                "current", "cause", "exception", "planner")
    assert edges == {("__start__", "route", False), ("answer", "__end__", False),
                     *{("route", h, True) for h in handlers}, *{(h, "answer", False) for h in handlers}}


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
        again = sse(live.url, "and the overview?", thread)           # the checkpointer kept the thread's state
        assert again[0][1]["route"] == "overview" and again[0][1]["entities"] == ["mariadb"]
        assert db.fetchone("SELECT COUNT(DISTINCT checkpoint_id) FROM lg_checkpoints WHERE thread_id = ?",
                           (thread,))[0] >= 3
        analyzed = httpx.post(f"{live.url}/analyze", json={"question": "tell me a joke"}).json()
        assert analyzed["route"]["route"] == "planner" and analyzed["done"]["thread_id"]
    finally:
        live.stop()


class ScriptedOllama:
    """An Ollama on loopback that answers each /api/chat with the next scripted message (the
    NDJSON shape Ollama streams). With `hold=True` the first answer waits until `release`."""

    def __init__(self, replies: list[dict], hold: bool = False):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests, self.arrived, self.release = 0, threading.Event(), threading.Event()
        if not hold:
            self.release.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if self.headers.get("Content-Length"):
                    self.rfile.read(int(self.headers["Content-Length"]))
                else:                                       # chunked, as the ollama client sends it
                    while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                        self.rfile.read(size + 2)
                    self.rfile.readline()
                outer.requests += 1
                outer.arrived.set()
                outer.release.wait(30)
                message = replies[min(outer.requests, len(replies)) - 1]
                chunks = [{"model": "qwen2.5:7b-instruct", "created_at": "2026-01-20T10:30:00Z", "done": False,
                           "message": {"role": "assistant", "content": "", **message}},
                          {"model": "qwen2.5:7b-instruct", "created_at": "2026-01-20T10:30:01Z", "done": True,
                           "done_reason": "stop", "message": {"role": "assistant", "content": ""}}]
                body = "".join(json.dumps(c) + "\n" for c in chunks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def tool_call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"function": {"name": name, "arguments": arguments}}]}


def wait_for(predicate, timeout_s: float = 30) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_client_disconnect_cancels_the_run(db_urls, db, tmp_path):
    model = ScriptedOllama([tool_call("latest_incidents")], hold=True)
    log = tmp_path / "server.log"
    live = LiveServer(str(db_urls[0]), log, env={"DEVMESH_LLM_BACKEND": "ollama", "DEVMESH_LLM_URL": model.url,
                                                 "DEVMESH_LLM_TIMEOUT_S": "60"}).start()
    try:
        client = httpx.Client(timeout=60)
        response = client.send(client.build_request("POST", f"{live.url}/chat", json={
            "question": "tell me a joke", "thread_id": "gone-1"}), stream=True)
        # read in this thread (a reader blocked in another thread would hold the socket open
        # until the next keep-alive ping, 15 s later): the route goes out first
        lines = response.iter_lines()          # kept: a dropped iterator closes the response
        assert any('"route": "planner"' in line for line in lines)
        assert model.arrived.wait(30)                           # the model is thinking ...
        response.close()                                        # ... and the client goes away
        client.close()
        # the client has gone: the server notices, then the planner stops before its next model call
        assert wait_for(lambda: "thread gone-1 cancelled" in log.read_text())
        model.release.set()
        assert wait_for(lambda: "planner stopped before its next model call" in log.read_text())
        assert model.requests == 1                          # no second round, no synthesis
        assert httpx.get(f"{live.url}/chat/threads/gone-1").json()["turns"] == []
    finally:
        model.release.set()
        live.stop()
        model.server.shutdown()


def test_tool_events_go_out_as_the_tools_run(db_urls, db, tmp_path):
    """Issue 14 (bug): on the planner route every `tool` start/end was sent after the planner
    had returned, all "ok", and refused calls vanished. Fix: agents/tool_calls.py announces
    each call from the one place tools run. The slow tool here is real: the test holds a
    write lock on log_events, so query_logs waits in MariaDB until the test lets it go."""
    import threading

    model = ScriptedOllama([tool_call("summon_dragon", power=9), tool_call("query_logs", service="mariadb",
                                                                            level="error"),
                            {"content": "Nothing is failing on mariadb."}])
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log", env={
        "DEVMESH_LLM_BACKEND": "ollama", "DEVMESH_LLM_URL": model.url}).start()
    seen: list[tuple[str, dict]] = []             # (event, data) as the client reads them

    def read():
        name = None
        with httpx.stream("POST", f"{live.url}/chat", json={"question": "tell me a story about mariadb"},
                          timeout=60) as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    seen.append((name, json.loads(line.split(":", 1)[1])))
    try:
        with db.connection() as conn:
            cur = conn.cursor()
            cur.execute("LOCK TABLES log_events WRITE")            # the tool will wait on this
            try:
                reader = threading.Thread(target=read, daemon=True)
                reader.start()
                assert wait_for(lambda: any(e == "tool" and d["name"] == "query_logs" and d["status"] == "start"
                                            for e, d in seen))      # the client reads `start` ...
                assert not any(e == "tool" and d["status"] == "end" and d["name"] == "query_logs" for e, d in seen)
                assert not any(e == "answer" for e, _ in seen)      # ... while the tool is still waiting
                assert model.requests == 2
            finally:
                cur.execute("UNLOCK TABLES")
        reader.join(30)
        tools = [(d["name"], d["status"], d.get("outcome")) for e, d in seen if e == "tool"]
        assert tools == [("summon_dragon", "end", "refused"), ("query_logs", "start", None),
                         ("query_logs", "end", "no_data")]                 # in the order they ran
        refused = next(d for e, d in seen if e == "tool" and d.get("outcome") == "refused")
        assert "query_logs" in refused["summary"]                         # it names the real tools
        start, end = [d for e, d in seen if e == "tool" and d["name"] == "query_logs"]
        assert start["id"] == end["id"] and start["args"] == {"service": "mariadb", "level": "error"}
        names = [e for e, _ in seen]
        assert names[0] == "route" and names[-1] == "done"
        assert names.index("tool") < names.index("answer")
        assert dict(seen)["answer"]["markdown"].startswith("Nothing is failing on mariadb.")
    finally:
        live.stop()
        model.server.shutdown()
