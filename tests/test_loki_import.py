"""`devmesh import loki` against Loki's query_range API (a remote service: replayed with respx
in the exact shape Loki answers), paging forward, resumable."""
from __future__ import annotations

import json
from datetime import datetime

import httpx
import respx

from ingest.loki_import import pull
from ingest.pipeline import Ingestor

BASE = 1768903200_000000000
LINES = [(BASE + i * 1_000_000_000, f"GET /item/{i} 200") for i in range(5)]


def loki_answer(request: httpx.Request) -> httpx.Response:
    params = request.url.params
    assert params["direction"] == "forward" and params["query"] == '{job="nginx"}'
    assert request.headers["X-Scope-OrgID"] == "team-a"
    start, limit = int(params["start"]), int(params["limit"])
    page = [(ns, line) for ns, line in LINES if ns >= start][:limit]
    return httpx.Response(200, json={"status": "success", "data": {
        "resultType": "streams",
        "result": [{"stream": {"job": "nginx", "host": "edge-1", "filename": "/var/log/nginx/access.log"},
                    "values": [[str(ns), line] for ns, line in page]}] if page else [],
        "stats": {"summary": {"bytesProcessedPerSecond": 1000, "execTime": 0.001}}}})


@respx.mock
def test_pages_forward_and_resumes(db, tmp_path):
    route = respx.get("http://loki.test:3100/loki/api/v1/query_range").mock(side_effect=loki_answer)
    state = tmp_path / "state.json"
    since, until = datetime(2026, 1, 20, 9, 0), datetime(2026, 1, 20, 11, 0)
    totals = pull(Ingestor(db), "http://loki.test:3100", '{job="nginx"}', since, until, state, "team-a", limit=2,
                  progress=False)
    assert totals["accepted"] == 5 and totals["pages"] >= 3
    rows = db.fetchall("SELECT host, service, message, source FROM log_events ORDER BY ts")
    assert [r[2] for r in rows] == [line for _, line in LINES]
    assert rows[0][:2] == ("edge-1", "nginx") and rows[0][3] == "loki-import"
    assert json.loads(state.read_text())["next_ns"] >= LINES[-1][0]
    calls = route.call_count
    again = pull(Ingestor(db), "http://loki.test:3100", '{job="nginx"}', since, until, state, "team-a", limit=2,
                 progress=False)
    assert again["lines"] == 0 and route.call_count == calls               # resumed past the end: nothing asked
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 5
