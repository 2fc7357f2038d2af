"""`devmesh bench detect`: one detector cycle's cost at N events/day over M services.

Rollups (what detectors read) for a synthetic fleet are written straight into a scratch
database: each service emits from its own set of templates at its own rate, a few per cent
of lines are errors, one service in twenty has a burst now and then. Then the replay clock
steps minute by minute and each cycle is timed (the first, which seeds baselines from the
history, is reported apart).
"""
from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime, timedelta

from db import counts, scratch
from db import templates as template_sql
from db.pool import Database
from db.settings import DBUrl
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from evals.bench_search import _pct

NOW = datetime(2026, 1, 20, 12, 0)


def run(url: DBUrl, events_per_day: int = 1_000_000, services: int = 200, history_minutes: int = 180,
        cycles: int = 60) -> dict:
    rng = random.Random(9)
    per_minute = events_per_day / 1440
    scratch_url = scratch.create_database(url, "benchdetect")
    db = Database(scratch_url)
    try:
        templates = {}
        for s in range(services):
            ids = []
            for k in range(12):
                text = f"svc{s} operation {k} " + ("failed: <*>" if k < 3 else "ok <NUM>")
                digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
                ids.append((int.from_bytes(digest[:8], "big") >> 11, digest, text, "error" if k < 3 else "info"))
            templates[s] = ids
        with db.transaction() as cur:
            template_sql.insert_new(cur, [(i, d, t, lv, NOW - timedelta(minutes=history_minutes), NOW, 1)
                                          for ids in templates.values() for i, d, t, lv in ids])
        start = NOW - timedelta(minutes=history_minutes)
        weights = [rng.paretovariate(1.2) for _ in range(services)]
        scale = per_minute / sum(weights)
        total_events = 0
        for m in range(history_minutes + cycles + 1):
            minute = start + timedelta(minutes=m)
            rows = []
            for s in range(services):
                expected = weights[s] * scale
                total = round(rng.expovariate(1 / expected)) if expected > 0 else 0
                errors = int(total * 0.03) + (1 if rng.random() < 0.03 else 0)
                if s % 20 == 0 and m % 97 == 13:
                    errors += 50                                  # a burst now and then
                infos = rng.sample([t for t in templates[s] if t[3] == "info"], 3)
                for k, (template_id, _d, _t, level) in enumerate(infos):
                    n = total // 3 + (1 if k < total % 3 else 0)
                    if n:
                        rows.append((minute, f"svc-{s}", f"host-{s % 40}", template_id, level, n))
                if errors:
                    template_id = rng.choice([t for t in templates[s] if t[3] == "error"])[0]
                    rows.append((minute, f"svc-{s}", f"host-{s % 40}", template_id, "error", errors))
                total_events += total + errors
            with db.transaction() as cur:
                counts.add(cur, rows)
                counts.add_services(cur, rows)
        settings = DetectorSettings()
        first = time.perf_counter()
        run_cycle(db, None, settings, NOW)
        bootstrap_ms = (time.perf_counter() - first) * 1e3
        timings, signals = [], 0
        for c in range(1, cycles + 1):
            t = time.perf_counter()
            result = run_cycle(db, None, settings, NOW + timedelta(minutes=c))
            timings.append((time.perf_counter() - t) * 1e3)
            signals += len(result.signals)
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    minutes = history_minutes + cycles + 1
    return {"events_per_day": round(total_events / minutes * 1440), "services": services, "cycles": cycles,
            "signals": signals, "bootstrap_ms": round(bootstrap_ms, 1), "cycle_ms_p50": _pct(timings, 50),
            "cycle_ms_p95": _pct(timings, 95)}
