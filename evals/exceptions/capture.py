"""Run the planted-bug programs for real and record what they wrote as ingest records.

`python -m evals.exceptions.capture` copies each program of cases.yaml to a deploy folder
(`devmesh-exceptions/srv/<case>/` in the temporary directory, so frames carry deploy paths, not this repo's),
runs every command line of the case with the real interpreter (python3 or node), and
writes `captured/<case>.jsonl`: one record per output line, as a shipper would send them
(host, service, stream in meta, the version the service runs), each line stamped 1 ms after
the previous from the run's real start time, plus `runs.json` (which run tripped which bug,
its exit code). Nothing here is edited by hand: re-run it to regenerate.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

HERE = Path(__file__).parent
VERSION = "v1"
HOST = "eval-1"


def load_cases() -> dict:
    return yaml.safe_load((HERE / "cases.yaml").read_text())


def _level(line: str) -> str:
    word = line.split(" ", 1)[0]
    return word.lower() if word in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "error"


def capture_case(name: str, case: dict, root: Path, start: datetime) -> tuple[list[dict], list[dict]]:
    deploy = root / "srv" / name
    shutil.copytree(HERE / "programs" / name, deploy)
    for filename, text in (case.get("files") or {}).items():
        (deploy / filename).write_text(text)
    entry = case["entry"]
    interpreter = ["node"] if entry.endswith(".js") else [sys.executable]
    records, runs = [], []
    clock = start
    for i, run in enumerate(case["runs"]):
        done = subprocess.run([*interpreter, entry, *map(str, run["args"])], cwd=deploy, capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
        output = (done.stdout + done.stderr).splitlines()
        first = len(records)
        for line in output:
            if not line.strip():
                continue
            records.append({"timestamp": clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "host": HOST, "service": name,
                            "level": _level(line), "message": line,
                            "meta": {"version": VERSION, "stream": "stderr", "run": i}})
            clock += timedelta(milliseconds=1)
        runs.append({"run": i, "bug": run["bug"], "exit_code": done.returncode,
                     "records": [first, len(records)]})
        clock += timedelta(seconds=5)
    return records, runs


def main() -> None:
    cases = load_cases()
    start = datetime.now(timezone.utc).replace(microsecond=0)
    out = HERE / "captured"
    out.mkdir(exist_ok=True)
    summary = {}
    root = Path(tempfile.gettempdir()) / "devmesh-exceptions"      # a fixed deploy root: the same paths each time
    shutil.rmtree(root, ignore_errors=True)
    try:
        for n, (name, case) in enumerate(sorted(cases.items())):
            records, runs = capture_case(name, case, root, start + timedelta(minutes=n))
            (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
            summary[name] = runs
    finally:
        shutil.rmtree(root, ignore_errors=True)
    (out / "runs.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({name: [r["exit_code"] for r in runs] for name, runs in summary.items()}))


if __name__ == "__main__":
    main()
