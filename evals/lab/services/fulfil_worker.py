"""fulfil-worker: consumes fulfil jobs from a redis list (BRPOP) and writes a receipt each.

Started by the lab as its own process; imports nothing of DevMesh. Logs logfmt lines:

    time=2026-01-20T10:00:00.123Z level=info msg="job done in 41 ms" trace_id=<32 hex> job=<n>
"""
from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from datetime import datetime, timezone

import redis

REDIS = dict(host=os.environ.get("REDIS_HOST", "127.0.1.4"), port=int(os.environ.get("REDIS_PORT", "7179")))
DATA_DIR = os.environ.get("WORKER_DATA_DIR", "/tmp/fulfil-worker")
FLAG = os.environ.get("WORKER_FLAG", "/tmp/fulfil-worker.raise")
QUEUE, DEAD = "jobs:fulfil", "jobs:fulfil:dead"
_running = True


def _quote(v) -> str:
    s = str(v)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' if (" " in s or '"' in s or "=" in s or not s) else s


def log(level: str, msg: str, **fields) -> None:
    now = datetime.now(timezone.utc)
    head = f"time={now.strftime('%Y-%m-%dT%H:%M:%S.')}{now.microsecond // 1000:03d}Z level={level} msg={_quote(msg)}"
    tail = "".join(f" {k}={_quote(v)}" for k, v in fields.items() if v is not None)
    sys.stdout.write(head + tail + "\n")
    sys.stdout.flush()


def process(job: dict, n: int) -> None:
    t0 = time.monotonic()
    if os.path.exists(FLAG):                  # the lab's bad deploy: a field renamed upstream
        qty = int(job["quantity"])
    else:
        qty = int(job["qty"])
    time.sleep(random.uniform(0.01, 0.06) * qty)   # picking and packing
    path = os.path.join(DATA_DIR, f"receipt-{n}.json")
    with open(path, "w") as fh:
        fh.write(json.dumps(job) + "\n" * 128)
    return (time.monotonic() - t0) * 1000


def main() -> None:
    def _stop(signum, frame):
        global _running
        _running = False
        log("info", f"received {signal.Signals(signum).name}, finishing current job")

    signal.signal(signal.SIGTERM, _stop)
    os.makedirs(DATA_DIR, exist_ok=True)
    client = redis.Redis(**REDIS, socket_timeout=5, socket_connect_timeout=3)
    log("info", f"fulfil-worker 0.9.1 starting, queue {QUEUE} on redis {REDIS['host']}:{REDIS['port']}", pid=os.getpid())
    n, idle_since, failures = 0, time.monotonic(), 0
    while _running:
        try:
            item = client.brpop([QUEUE], timeout=2)
            if failures:
                log("info", f"redis reachable again after {failures} failed attempts")
                failures = 0
        except redis.RedisError as exc:
            failures += 1
            wait = min(0.5 * 2 ** (failures - 1), 5.0)
            log("error", f"redis error while waiting for jobs: {exc}", attempt=failures)
            log("warn", f"retrying in {wait:.1f}s")
            time.sleep(wait)
            continue
        if item is None:
            if time.monotonic() - idle_since > 30:
                log("info", "queue idle for 30s")
                idle_since = time.monotonic()
            continue
        idle_since = time.monotonic()
        n += 1
        try:
            job = json.loads(item[1])
        except ValueError:
            log("error", "dropping job that is not JSON", job=n)
            continue
        trace = job.get("trace_id")
        lag = time.time() * 1000 - job.get("at", time.time() * 1000)
        log("info", f"job received for product {job.get('product_id')}, queued {lag:.0f} ms ago", trace_id=trace, job=n)
        try:
            ms = process(job, n)
        except OSError as exc:
            log("error", f"could not write receipt: {exc}", trace_id=trace, job=n)
            _dead(client, item[1], trace, n)
            continue
        except Exception as exc:
            log("error", f"job failed: {type(exc).__name__}: {exc}", trace_id=trace, job=n)
            _dead(client, item[1], trace, n)
            continue
        if ms > 1000:
            log("warn", f"job slow: done in {ms:.0f} ms", trace_id=trace, job=n)
        else:
            log("info", f"job done in {ms:.0f} ms", trace_id=trace, job=n)
    log("info", f"stopped after {n} jobs")


def _dead(client, raw, trace, n) -> None:
    try:
        client.lpush(DEAD, raw)
        log("warn", f"moved job to {DEAD}", trace_id=trace, job=n)
    except redis.RedisError as exc:
        log("error", f"could not move job to {DEAD}: {exc}", trace_id=trace, job=n)


if __name__ == "__main__":
    main()
