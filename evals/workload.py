"""Synthetic but realistic log workloads for benchmarks: Loghub messages with fresh numbers.

Each line takes a real message from ../shared/data/loghub2k (when present) and redraws its
digits, so lines keep their template but are distinct strings (no cache flattery).
"""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

_FALLBACK = [
    "Connection to 10.0.0.18:3306 refused after 30s",
    "Accepted publickey for deploy from 10.0.0.7 port 50122 ssh2",
    "GET /api/v1/items/8812 200 12.5ms",
    "upstream timed out (110: Connection timed out) while reading response header from upstream",
    "InnoDB: Buffer pool(s) load completed at 260120 10:00:01",
    "Out of memory: Killed process 4242 (python3) total-vm:8123456kB",
    "pam_unix(cron:session): session opened for user root by (uid=0)",
    "Started Session 1234 of user deploy.",
]


def messages() -> list[str]:
    from evals.templates import DATASETS, data_dir, load

    try:
        root = data_dir()
    except FileNotFoundError:
        print("note: ../shared/data/loghub2k is absent; using a small built-in message set")
        return _FALLBACK
    out = []
    for name in DATASETS:
        if (root / name).is_dir():
            out += load(name)[0]
    return out


def records(n: int, seed: int = 7, services: int = 20, hosts: int = 10,
            start: datetime = datetime(2026, 1, 20, 0, 0)) -> list[dict]:
    """`n` records, 20 lines/s, from `services` services. Like a real fleet, each service
    runs on one or two fixed hosts and speaks its own vocabulary (a slice of the messages)."""
    rng = random.Random(seed)
    pool = messages()
    digit = re.compile(r"\d")
    slice_len = max(1, len(pool) // services)
    fleet = []
    for s in range(services):
        vocabulary = pool[s * slice_len:(s + 1) * slice_len] or pool
        placed = [f"host-{(s + k) % hosts}" for k in range(1 + s % 2)]
        fleet.append((f"svc-{s}", placed, vocabulary))
    out = []
    for i in range(n):
        service, placed, vocabulary = fleet[rng.randrange(services)]
        message = digit.sub(lambda _: str(rng.randrange(10)), rng.choice(vocabulary))
        out.append({"timestamp": (start + timedelta(milliseconds=50 * i)).isoformat() + "Z",
                    "host": rng.choice(placed), "service": service,
                    "level": rng.choice(("info", "info", "info", "warning", "error")), "message": message})
    return out
