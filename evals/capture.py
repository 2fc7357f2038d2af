"""A verdict becomes a golden case: `devmesh eval capture INCIDENT_ID DIR` writes
DIR/incident-<id>/ in the format of evals/cases (evals/README.md):

- case.yaml: a neutral title, the replay window (the incident's), the root cause a person
  verified (the report's when the verdict accepted it; the one the feedback names when it
  rejected it or called it partly right), the detectors that fired, the impacted services
  when the report was accepted, and `trigger` when the incident came from outside;
- logs.jsonl: the stored lines of the window and of the history before it, oldest first, as
  wire records as they arrived (the service name before the inventory mapped it), every
  message and string in `meta` masked as the LLM path masks (agents.planner.Masker with
  DEVMESH_LLM_MASK_PATTERNS);
- inventory.yaml: the inventory in force when captured.

`devmesh eval --cases DIR` replays it. Memory is bounded: lines are read and written a page
at a time, and the history has a ceiling (max_lines).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from agents.planner import Masker
from db import events
from db import incidents as incident_sql
from db import memory as memory_sql
from db.pool import Database

PAGE = 5000
OUTSIDE = ("manual", "alert")          # incidents opened from outside (by hand, the chat, Alertmanager)


class CaptureError(ValueError):
    """What stops a capture, said with how to fix it."""


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.rstrip("Z"))


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds") + "Z"


def verified_root_cause(report: dict, verdict: dict) -> tuple[str, str | None]:
    if verdict["verdict"] == "accept":
        if not report.get("root_cause_service"):
            raise CaptureError("the accepted report names no root cause; give feedback that names it "
                               "(POST /incidents/ID/feedback with verdict reject and root_cause_service)")
        return report["root_cause_service"], report.get("root_cause_host")
    if not verdict.get("root_cause_service"):
        raise CaptureError(f"the {verdict['verdict']} verdict names no root cause; give feedback with "
                           "root_cause_service (and root_cause_host) set to what it really was")
    return verdict["root_cause_service"], verdict.get("root_cause_host")


def record(row: tuple, mask: Masker) -> dict:
    _, ts, host, service, source, level, message, trace_id, span_id, event_type, error_code, meta_json = row
    meta = json.loads(meta_json) if meta_json else {}
    raw = meta.pop("raw_service", None) if isinstance(meta, dict) else None
    out = {"timestamp": _iso(ts), "host": host, "service": raw or service, "level": level, "message": mask(message)}
    for key, value in (("source", source), ("trace_id", trace_id), ("span_id", span_id),
                       ("event_type", event_type), ("error_code", error_code)):
        if value:
            out[key] = value
    if meta:
        out["meta"] = _mask_tree(meta, mask)
    return out


def _mask_tree(node, mask: Masker):
    if isinstance(node, str):
        return mask(node)
    if isinstance(node, dict):
        return {k: _mask_tree(v, mask) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_tree(v, mask) for v in node]
    return node


def capture(db: Database, incident_id: int, directory: Path, inventory_text: str | None,
            mask_patterns: tuple[str, ...] = (), history_minutes: int = 240, max_lines: int = 2_000_000) -> Path:
    incident = incident_sql.get(db, incident_id)
    if incident is None:
        raise CaptureError(f"no incident {incident_id}; list them with `devmesh incidents`")
    report = incident_sql.latest_report(db, incident_id)
    if report is None:
        raise CaptureError(f"incident {incident_id} has no report yet; run `devmesh investigate {incident_id}`")
    verdict = memory_sql.verdicts(db, [incident_id]).get(incident_id)
    if verdict is None:
        raise CaptureError(f"incident {incident_id} has no verdict; judge its report first "
                           f"(POST /incidents/{incident_id}/feedback: accept, or reject naming the root cause)")
    service, host = verified_root_cause(report, verdict)
    target = directory / f"incident-{incident_id}"
    if target.exists():
        raise CaptureError(f"{target} already exists; remove it or capture into another DIR")
    start, end = _dt(incident["window_start"]), _dt(incident["window_end"])
    outside = incident["trigger"] in OUTSIDE      # the runner opens these itself, at `trigger.at`
    # the replay clock stops at the window's end; an incident from outside is read up to 15 min past it
    until = end + timedelta(minutes=15 if outside else 1)
    since = start - timedelta(minutes=history_minutes)
    signals = incident_sql.signals(db, incident_id)
    expect: dict = {"incident": True, "root_cause": {"service": service, **({"host": host} if host else {})}}
    if not outside:
        expect["detectors"] = sorted({s["detector"] for s in signals})
    if verdict["verdict"] == "accept":
        expect["impacted"] = list(report.get("impacted_services") or [])
    case = {"title": f"Captured incident {incident_id}", "tags": ["captured", f"verdict-{verdict['verdict']}"],
            "split": "dev", "window": {"start": _iso(start), "end": _iso(end)}, "expect": expect,
            "notes": f"captured from incident {incident_id} ({verdict['verdict']}ed verdict) by devmesh eval capture; "
                     f"the inventory is the one in force when captured"}
    if outside:
        case["trigger"] = {"at": _iso(end), **({"service": incident["service"]} if incident["service"] else {})}
    target.mkdir(parents=True)
    mask = Masker(mask_patterns)
    written, after = 0, None
    with (target / "logs.jsonl").open("w", encoding="utf-8") as out:
        while written < max_lines:
            page = events.export_page(db, since, until, after, min(PAGE, max_lines - written))
            if not page:
                break
            for row in page:
                out.write(json.dumps(record(row, mask), ensure_ascii=False, separators=(",", ":")) + "\n")
            written += len(page)
            after = (page[-1][1], page[-1][0])
    (target / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False))
    if inventory_text:
        (target / "inventory.yaml").write_text(inventory_text)
    return target

