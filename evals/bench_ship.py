"""`devmesh bench ship`: journal file -> shipper -> a local `devmesh serve` -> MariaDB.

A real journal file (systemd-journal-remote) of N entries with realistic messages, the
shipper as its own process with its default batching (`--once`), a server process on a
scratch database; the figure is entries per second of the shipper's wall time.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from db import scratch, stats
from db.pool import Database
from db.settings import DBUrl
from evals.live import REPO, LiveServer
from evals.workload import records
from shipper.export import write_journal


def run(url: DBUrl, entries: int = 20_000, batch_size: int = 50) -> dict:
    scratch_url = scratch.create_database(url, "benchship")
    with tempfile.TemporaryDirectory() as tmp:
        journal = write_journal(Path(tmp) / "bench.journal", [
            {"__REALTIME_TIMESTAMP": 1768867200_000000 + i * 1000, "_HOSTNAME": r["host"],
             "_SYSTEMD_UNIT": f"{r['service']}.service", "PRIORITY": 6, "MESSAGE": r["message"], "_PID": 1000 + i % 50}
            for i, r in enumerate(records(entries))])
        server = LiveServer(str(scratch_url), Path(tmp) / "server.log").start()
        try:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "shipper", "--url", server.url, "--file", str(journal),
                                   "--once", "--batch-size", str(batch_size)], cwd=REPO, capture_output=True,
                                  text=True, timeout=1800)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"shipper failed: {proc.stderr[-1000:]}")
            db = Database(scratch_url)
            stored = stats.count_events(db)
            db.close()
        finally:
            server.stop()
            scratch.drop_database(scratch_url)
    return {"entries": entries, "batch_size": batch_size, "stored": stored,
            "lines_per_s": round(entries / elapsed)}
