"""`devmesh bench bombs`: the server's memory before, during and after hostile bodies.

A real `devmesh serve` on a scratch database; each bomb is sent `rounds` times: a deflate
and a gzip body that inflate to 1 GiB, a snappy Loki push that decodes to 20 MiB, a JSON
integer of 5,000 digits, a 10,000-deep body. RSS is read from
/proc (VmRSS, and VmHWM for the peak). Target: after the bombs, within 100 MB of before.
"""
from __future__ import annotations

import gzip
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import httpx


def _rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _bombs() -> dict[str, tuple[bytes, dict, str]]:
    import cramjam

    gib = b"\0" * (1024 * 1024 * 1024)
    deflate = zlib.compress(gib, 9)
    gz = gzip.compress(gib, 9)
    del gib
    snappy = bytes(cramjam.snappy.compress_raw(b"\0" * (20 * 1024 * 1024)))
    huge_int = b'{"logs": [{"n": ' + b"9" * 5000 + b"}]}"
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    json_ = {"Content-Type": "application/json"}
    return {"deflate_1gib": (deflate, {**json_, "Content-Encoding": "deflate"}, "/ingest/logs"),
            "gzip_1gib": (gz, {**json_, "Content-Encoding": "gzip"}, "/v1/logs"),
            "snappy_20mib": (snappy, {"Content-Type": "application/x-protobuf"}, "/loki/api/v1/push"),
            "int_5000_digits": (huge_int, json_, "/ingest/logs"),
            "deep_10000": (deep, json_, "/alerts/alertmanager")}


def run(db_url, rounds: int = 3) -> dict:
    from db.pool import Database
    from evals.live import LiveServer

    name = f"devmesh_bench_bombs_{uuid.uuid4().hex[:8]}"
    admin = Database(db_url)
    with admin.transaction() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    log = Path(tempfile.mkdtemp()) / "server.log"
    live = LiveServer(str(db_url.with_database(name)), log).start()
    try:
        pid = live.proc.pid
        httpx.post(f"{live.url}/ingest/logs", json={"logs": [{"timestamp": "2026-01-20T10:00:00Z", "host": "h",
                                                               "service": "s", "message": "warm up"}]})
        before, _ = _rss_mb(pid)
        statuses: dict[str, list[int]] = {}
        seconds: dict[str, float] = {}
        for label, (body, headers, path) in _bombs().items():
            start = time.perf_counter()
            for _ in range(rounds):
                statuses.setdefault(label, []).append(
                    httpx.post(f"{live.url}{path}", content=body, headers=headers, timeout=120).status_code)
            seconds[label] = round((time.perf_counter() - start) / rounds, 3)
        after, peak = _rss_mb(pid)
        healthy = httpx.get(f"{live.url}/health", timeout=10).status_code
    finally:
        live.stop()
        with admin.transaction() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
    return {"benchmark": "bombs", "rounds": rounds, "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "rss_peak_mb": round(peak, 1), "delta_mb": round(after - before, 1), "target_delta_mb": 100,
            "statuses": statuses, "seconds_per_request": seconds, "health_after": healthy}
