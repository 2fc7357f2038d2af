"""`devmesh bench chat`: first-event and answer latency of the deterministic chat routes,
over SSE from a live server, with N events in its database."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import httpx

from db import scratch
from db.pool import Database
from db.settings import DBUrl
from evals.bench_search import _pct
from evals.live import LiveServer
from evals.workload import records
from ingest.pipeline import Ingestor

QUESTIONS = ["how is svc-3 doing in the last 2 hours", "errors on svc-7 in the last hour",
             "what changed on svc-1 in the last 30 minutes", "what depends on svc-2", "show me the incidents",
             "what's wrong right now?", "why did svc-4 fail?", "errors on svc-5 since 30m",
             "is there a runbook for disk full?"]


def run(url: DBUrl, events: int = 1_000_000, rounds: int = 10) -> dict:
    scratch_url = scratch.create_database(url, "benchchat")
    db = Database(scratch_url)
    try:
        from datetime import datetime, timedelta, timezone

        start = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(milliseconds=50 * events)
        data = records(events, start=start)                       # 20 lines/s ending now
        ingestor = Ingestor(db)
        for _ in ingestor.ingest_stream(data[i:i + 2000] for i in range(0, len(data), 2000)):
            pass
        del data
        with tempfile.TemporaryDirectory() as tmp:
            inventory = Path(tmp) / "inventory.yaml"
            inventory.write_text("services:\n" + "".join(f"  svc-{i}: {{hosts: [host-{i % 10}]"
                                                         f"{', depends_on: [svc-' + str(i - 1) + ']' if i else ''}}}\n"
                                                         for i in range(20)))
            server = LiveServer(str(scratch_url), Path(tmp) / "server.log", env={"DEVMESH_INVENTORY": str(inventory)})
            server.start()
            first, answer = [], []
            by_question: dict[str, list[float]] = {q: [] for q in QUESTIONS}
            try:
                with httpx.Client(timeout=60) as client:
                    for _ in range(rounds):
                        for question in QUESTIONS:
                            t0 = time.perf_counter()
                            got_first = None
                            with client.stream("POST", f"{server.url}/chat", json={"question": question}) as r:
                                event = None
                                for line in r.iter_lines():
                                    if line.startswith("event:"):
                                        event = line.split(":", 1)[1].strip()
                                        if got_first is None:
                                            got_first = time.perf_counter()
                                    elif line.startswith("data:") and event == "answer":
                                        json.loads(line.split(":", 1)[1])
                                        answer.append((time.perf_counter() - t0) * 1e3)
                                        by_question[question].append(answer[-1])
                            first.append((got_first - t0) * 1e3)
            finally:
                server.stop()
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    return {"events": events, "questions": len(first), "first_event_ms_p50": _pct(first, 50),
            "first_event_ms_p95": _pct(first, 95), "answer_ms_p50": _pct(answer, 50), "answer_ms_p95": _pct(answer, 95),
            "answer_ms_p50_by_question": {q: _pct(ms, 50) for q, ms in by_question.items()}}
