"""A recording -> a case directory (case.yaml, logs.jsonl.gz, inventory.yaml, lab.json).

Pure apart from the final write. The title is what an operator would see at the edge
(nginx's access log: errors, latency, traffic), never the answer; the `root-logs-*` tag is
decided mechanically from the target's own lines.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from evals.lab.parse import ERROR_LEVELS
from evals.lab.topology import SERVICES, inventory_yaml
from ingest.templates import template_of

def _when(r: dict) -> datetime:
    return r.get("_ts") or datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))


_ACCESS = re.compile(r'"[^"]*" (?P<status>\d{3}) .* rt=(?P<rt>[\d.]+)')


def root_logs_tag(records: list[dict], target: str, start: datetime, end: datetime) -> str:
    """root-logs-error when the target writes, in the fault window, an error-or-worse line whose
    template is not among its own history's templates (any level); else root-logs-no-error."""
    svc = SERVICES[target]
    history, fault = set(), []
    for r in records:
        if r["service"] != svc.unit or r["host"] != svc.host:
            continue
        ts = _when(r)
        if ts < start:
            history.add(template_of(r["message"])[0])
        elif ts <= end and r["level"] in ERROR_LEVELS:
            fault.append(r["message"])
    new = any(template_of(m)[0] not in history for m in fault)
    return "root-logs-error" if new else "root-logs-no-error"


def _edge(records: list[dict], lo: datetime, hi: datetime) -> tuple[float, float, float]:
    """(requests/s, share of 5xx, p90 request time) of nginx's access lines in [lo, hi)."""
    unit = SERVICES["nginx"].unit
    statuses, times = [], []
    for r in records:
        if r["service"] != unit:
            continue
        m = _ACCESS.search(r["message"])
        if not m or not lo <= _when(r) < hi:
            continue
        statuses.append(int(m["status"]))
        times.append(float(m["rt"]))
    secs = max((hi - lo).total_seconds(), 1.0)
    if not statuses:
        return 0.0, 0.0, 0.0
    times.sort()
    return len(statuses) / secs, sum(s >= 500 for s in statuses) / len(statuses), times[int(0.9 * (len(times) - 1))]


def title(records: list[dict], history_start: datetime, start: datetime, end: datetime) -> str:
    rate0, err0, p90_0 = _edge(records, history_start, start)
    rate1, err1, p90_1 = _edge(records, start, end)
    if rate0 and rate1 < 0.5 * rate0:
        return "Shop traffic dropped sharply"
    failing = err1 > max(0.02, 3 * err0)
    slow = p90_1 > max(0.3, 2 * p90_0)
    if failing and slow:
        return "Shop requests slow and failing"
    if failing:
        return "Shop API returning errors"
    if slow:
        return "Shop requests slow"
    return "Customers report problems with the shop"


def _z(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def case_yaml(*, title_text: str, fault: str | None, target: str | None, tag: str | None, start: datetime,
              end: datetime, trigger_at: datetime | None) -> str:
    doc: dict = {"title": title_text, "tags": [fault, tag] if fault else ["control"], "split": "dev",
                 "window": {"start": _z(start), "end": _z(end)}}
    if fault:
        svc = SERVICES[target]
        doc["trigger"] = {"at": _z(trigger_at)}
        doc["expect"] = {"incident": True, "root_cause": {"service": svc.name, "host": svc.host}}
    else:
        doc["expect"] = {"incident": False}
    return yaml.safe_dump(doc, sort_keys=False)


def trigger_time(start: datetime, end: datetime, offset_s: float) -> datetime:
    at = start + timedelta(seconds=offset_s)
    return min(at, end - timedelta(seconds=10)).replace(microsecond=0)


def write(out_dir: Path, slug: str, records: list[dict], case_text: str, lab: dict) -> Path:
    """Write the case atomically (a temp dir renamed into place)."""
    final = out_dir / slug
    tmp = out_dir / f".{slug}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    recs = sorted(records, key=lambda r: r["timestamp"])
    # gzip -n: no name or time in the header, so the same recording gives the same bytes
    with gzip.GzipFile(tmp / "logs.jsonl.gz", "wb", mtime=0) as raw, io.TextIOWrapper(raw, encoding="utf-8") as fh:
        for r in recs:
            fh.write(json.dumps({k: v for k, v in r.items() if k != "_ts"}, ensure_ascii=False,
                                separators=(",", ":")) + "\n")
    (tmp / "case.yaml").write_text(case_text)
    (tmp / "inventory.yaml").write_text(inventory_yaml())
    (tmp / "lab.json").write_text(json.dumps(lab, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final
