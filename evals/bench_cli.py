"""`devmesh bench cli`: how long each light command takes to start, beside `python -c pass`.

Each command runs as a fresh process (what a person typing it waits for), `runs` times; the
median is reported with the spread. Commands that need the database (`incidents`,
`services status`) talk to the running local services.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

BUDGET_S = 0.5
COMMANDS: dict[str, tuple[list[str], str | None]] = {
    "python -c pass": ([sys.executable, "-c", "pass"], None),
    "devmesh --help": ([sys.executable, "-m", "server", "--help"], None),
    "devmesh parse": ([sys.executable, "-m", "server", "parse"], "Connection to 10.0.0.1:3306 refused after 3s\n"),
    "devmesh ship --help": ([sys.executable, "-m", "server", "ship", "--help"], None),
    "devmesh incidents": ([sys.executable, "-m", "server", "incidents", "--json"], None),
    "devmesh chat --help": ([sys.executable, "-m", "server", "chat", "--help"], None),
    "devmesh services status": ([sys.executable, "-m", "server", "services", "status", "--json"], None),
}


def _once(argv: list[str], stdin: str | None) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, done.returncode


def run(runs: int = 5) -> dict:
    results = {}
    for name, (argv, stdin) in COMMANDS.items():
        samples, codes = [], set()
        for _ in range(runs):
            seconds, code = _once(argv, stdin)
            samples.append(seconds)
            codes.add(code)
        results[name] = {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3),
                         "max_s": round(max(samples), 3), "exit_codes": sorted(codes)}
    baseline = results["python -c pass"]["median_s"]
    over = [n for n, r in results.items() if r["median_s"] > BUDGET_S]
    return {"benchmark": "cli", "runs": runs, "budget_s": BUDGET_S, "python_baseline_s": baseline,
            "commands": results, "over_budget": over}
