"""`devmesh bench analyze`: the window analysis (read the rollups, triage, extract) and
"what changed" over a scratch database holding N events spread over a day of 20 services."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from agents import window, window_changes
from db import scratch
from db.pool import Database
from db.settings import DBUrl
from evals.bench_search import _pct
from evals.workload import records
from ingest.pipeline import Ingestor

END = datetime(2026, 1, 21, 0, 30)
SPAN = timedelta(hours=24, minutes=30)


def run(url: DBUrl, events: int = 300_000, rounds: int = 10) -> dict:
    scratch_url = scratch.create_database(url, "benchanalyze")
    db = Database(scratch_url)
    try:
        data = records(events)
        step = SPAN / max(1, events)
        for i, record in enumerate(data):                      # the same lines, spread over the day
            record["timestamp"] = (END - SPAN + step * i).isoformat() + "Z"
        ingestor = Ingestor(db)
        for _ in ingestor.ingest_stream(data[i:i + 2000] for i in range(0, len(data), 2000)):
            pass
        del data
        since, until = END - timedelta(minutes=30), END
        service_ms, fleet_ms, changes_ms, rows = [], [], [], 0
        for k in range(rounds):
            service = f"svc-{k % 20}"
            t0 = time.perf_counter()
            view = window.gather(db, [service], None, None, since, until, timedelta(hours=24))
            out = window.run(view)
            service_ms.append((time.perf_counter() - t0) * 1e3)
            rows = max(rows, len(view.stats))
            assert out["extraction"]["severity"]
            t0 = time.perf_counter()
            window.run(window.gather(db, None, None, None, since, until, timedelta(hours=24)))
            fleet_ms.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            window_changes.changes(db, service, None, (since - timedelta(hours=1), since), (since, until))
            changes_ms.append((time.perf_counter() - t0) * 1e3)
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    return {"events": events, "rounds": rounds, "window": "30m", "baseline": "24h",
            "service_templates_max": rows,
            "analyze_service_ms_p50": _pct(service_ms, 50), "analyze_service_ms_p95": _pct(service_ms, 95),
            "analyze_fleet_ms_p50": _pct(fleet_ms, 50), "analyze_fleet_ms_p95": _pct(fleet_ms, 95),
            "changes_ms_p50": _pct(changes_ms, 50), "changes_ms_p95": _pct(changes_ms, 95)}
