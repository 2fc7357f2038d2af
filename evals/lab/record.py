"""`devmesh lab record`: plan the cases from the seed, then record them one by one.

The plan (fault, target, durations, load, parameters) is drawn from the seed before anything
runs; nothing here reads what DevMesh ranks. Each finished case is written as it completes;
a failed recording is logged, retried once, and the run goes on.
"""
from __future__ import annotations

import fcntl
import json
import random
import shutil
import signal
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from evals.lab import casefile, parse
from evals.lab.faults import Fault, nft_in_use, remove_nft
from evals.lab.stack import LAB_ROOT, LabError, Stack
from evals.lab.topology import FAULTS, SERVICES

UTC = timezone.utc
WARMUP_S = 6


@dataclass
class Planned:
    slug: str
    fault: str | None
    target: str | None
    history_s: float
    fault_s: float
    rate: float
    load_seed: int
    trigger_offset_s: float
    params: dict


def plan(n_faults: int, n_controls: int, seed: int, first: int = 1, history=(120, 140), fault=(100, 115)) -> list[Planned]:
    rng = random.Random(seed)
    kinds: list[str | None] = [rng.choice(sorted(FAULTS)) for _ in range(n_faults)] + [None] * n_controls
    rng.shuffle(kinds)
    out = []
    for i, kind in enumerate(kinds):
        target = rng.choice(FAULTS[kind]) if kind else None
        fault_s = rng.uniform(*fault)
        params: dict = {}
        if kind == "cpu_hog":
            params = {"workers": 4, "timeout_s": fault_s + 30}
        elif kind == "net_delay":
            params = {"delay_ms": round(rng.uniform(250, 700))}
        elif kind == "net_loss":
            params = {"loss_pct": rng.randint(15, 35)}
        out.append(Planned(slug=f"lab-{first + i:02d}", fault=kind, target=target,
                           history_s=round(rng.uniform(*history)), fault_s=round(fault_s),
                           rate=round(rng.uniform(10, 24), 1), load_seed=rng.randrange(1 << 30),
                           trigger_offset_s=round(rng.uniform(60, 90)), params=params))
    return out


# where each service's lines are: (file under run/logs, parser kind, captured stdout?)
SOURCES = {
    "nginx": [("nginx/access.log", "nginx_access", False), ("nginx/error.log", "nginx_error", False)],
    "shop-web": [("shop-web.out", "python_logging", True)],
    "stock-api": [("stock-api.out", "pino", True)],
    "redis": [("redis/redis-server.log", "redis", False)],
    "mariadb": [("mariadb/error.log", "mariadb_error", False)],
    "fulfil-worker": [("fulfil-worker.out", "logfmt", True)],
}


def collect(logs: Path) -> list[dict]:
    out: list[dict] = []
    for name, files in SOURCES.items():
        s = SERVICES[name]
        for rel, kind, captured in files:
            p = logs / rel
            if p.exists():
                out += parse.records(p.read_text(errors="replace"), kind, s.host, s.unit, captured=captured)
    slow = logs / "mariadb" / "slow.log"
    if slow.exists():
        s = SERVICES["mariadb"]
        out += parse.mariadb_slow(slow.read_text(errors="replace"), s.host, s.unit)
    return out


def _now() -> datetime:
    return datetime.now(UTC)


def record_one(p: Planned, out_dir: Path, say=print) -> Path:
    fault = Fault(p.fault, p.target, p.params)
    run = LAB_ROOT / "run"
    if nft_in_use():
        raise LabError("an nftables table devmesh_lab exists already (another lab running?)")
    stack = Stack(run, **fault.stack_options())
    t0 = time.monotonic()
    try:
        stack.start()
        stack.start_load(p.rate, p.load_seed)
        time.sleep(WARMUP_S)
        history_start = _now()
        time.sleep(p.history_s)
        for name, proc in stack.procs.items():
            if not proc.alive():
                raise LabError(f"{name} died during the history (exit {proc.p.returncode})")
        start = _now()
        fault.inject(stack)
        say(f"{p.slug}: {p.fault or 'control'} {p.target or ''} injected at {start:%H:%M:%S}")
        time.sleep(max(p.fault_s - (_now() - start).total_seconds(), 0))
        end = _now()
    finally:
        try:
            fault.restore(stack)
        finally:
            stack.stop()
            remove_nft()
    recs = [r for r in collect(stack.logs) if history_start <= r["_ts"] <= end]
    _check(recs, history_start, start)
    tag = casefile.root_logs_tag(recs, p.target, start, end) if p.fault else None
    trigger = casefile.trigger_time(start, end, p.trigger_offset_s) if p.fault else None
    text = casefile.case_yaml(title_text=casefile.title(recs, history_start, start, end), fault=p.fault,
                              target=p.target, tag=tag, start=start, end=end, trigger_at=trigger)
    load = (stack.logs / "loadgen.out").read_text() if (stack.logs / "loadgen.out").exists() else ""
    lab = {"plan": asdict(p), "history_start": parse.iso(history_start), "fault_start": parse.iso(start),
           "fault_end": parse.iso(end), "records": len(recs), "wall_s": round(time.monotonic() - t0),
           "loadgen": [json.loads(line) for line in load.splitlines() if line.startswith("{")][-1:]}
    path = casefile.write(out_dir, p.slug, recs, text, lab)
    shutil.rmtree(run, ignore_errors=True)
    return path


def _terminate(signum, frame):
    raise SystemExit(f"stopped by {signal.Signals(signum).name}")


def _check(recs: list[dict], history_start: datetime, start: datetime) -> None:
    """A recording is usable when every service that logs per request wrote lines in its history (the
    databases may be quiet) and most requests succeeded at the edge."""
    units = {r["service"] for r in recs if r["_ts"] < start}
    missing = [s.name for s in SERVICES.values() if s.unit not in units and s.type != "database" and s.type != "cache"]
    if missing:
        raise LabError(f"no history lines from {', '.join(missing)}")
    rate, err, _ = casefile._edge(recs, history_start, start)
    if rate < 3 or err > 0.05:
        raise LabError(f"history unhealthy at the edge: {rate:.1f} req/s, {err:.0%} 5xx")


def record_all(out_dir: Path, n_faults: int, n_controls: int, seed: int, first: int = 1, history=(120, 140),
               fault=(100, 115), say=print) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    LAB_ROOT.mkdir(parents=True, exist_ok=True)
    lock = open(LAB_ROOT / "record.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LabError("another `devmesh lab record` is running") from None
    signal.signal(signal.SIGTERM, _terminate)     # stop cleanly in the background: teardown runs
    journal = out_dir / "lab-record.log"
    done = []
    for p in plan(n_faults, n_controls, seed, first, history, fault):
        for attempt in (1, 2):
            t0 = time.monotonic()
            try:
                path = record_one(p, out_dir, say)
            except Exception as exc:     # one bad recording must not end an unattended run
                msg = f"{p.slug} attempt {attempt} failed: {exc}"
                say(msg)
                with open(journal, "a") as fh:
                    fh.write(f"{_now():%Y-%m-%dT%H:%M:%SZ} {msg}\n{traceback.format_exc()}\n")
                continue
            line = f"{p.slug} written ({p.fault or 'control'} {p.target or ''}, {time.monotonic() - t0:.0f}s)"
            say(line)
            with open(journal, "a") as fh:
                fh.write(f"{_now():%Y-%m-%dT%H:%M:%SZ} {line}\n")
            done.append({"slug": p.slug, "path": str(path)})
            break
    return done
