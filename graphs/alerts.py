"""POST /alerts/alertmanager: Alertmanager's (and Grafana's) webhook -> incidents.

A firing alert opens one incident (deduplicated by fingerprint) on what its labels are
about, through the inventory (graphs/alert_labels.py: `instance`'s host, `job`, `pod`, ...;
an alert about a host covers the services on it), and the worker pool investigates it;
`resolved` closes it. Body: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from db import alerts as alert_sql
from db import incidents as incident_sql
from graphs.alert_labels import subject
from graphs.http import fail
from ingest import wire_schema as wire
from ingest.http import read_json_body
from ingest.normalize import RecordError, clean_text, parse_timestamp

ALERT_BODY_MAX_BYTES = 1024 * 1024        # Alertmanager groups are a few kB; 64 MiB was accepted

router = APIRouter(tags=["alerts"])
_CONTROL = re.compile("[\x00-\x1f\x7f]")
SEVERITY = {"critical": "critical", "page": "critical", "error": "error", "major": "error", "warning": "warning",
            "warn": "warning", "minor": "warning", "info": "info", "none": "info"}
LOOKBACK = timedelta(minutes=15)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _fingerprint(alert: dict) -> str:
    if alert.get("fingerprint"):
        return str(alert["fingerprint"])[:64]
    labels = json.dumps(alert.get("labels") or {}, sort_keys=True)
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


NAME_MAX, TITLE_MAX = 128, 255                     # the incidents columns they land in


def _text(value, limit: int) -> str:
    """A label or annotation as one clean line: surrogates and control characters replaced,
    cut at `limit` with a marker."""
    text = _CONTROL.sub(" ", clean_text(str(value)))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _labels(value, what: str) -> dict[str, str]:
    """Alertmanager v4 labels/annotations: an object of strings (numbers and booleans taken
    as text); anything else is this alert's error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object of strings, not {type(value).__name__}")
    out = {}
    for key, item in value.items():
        if isinstance(item, (dict, list)) or item is None:
            raise ValueError(f"{what}.{_text(key, 40)} must be a string")
        out[_text(key, NAME_MAX)] = _text(item, 1000)
    return out


def handle(state, payload: dict) -> dict:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise ValueError("expected an Alertmanager webhook body with an 'alerts' list")
    common = _labels(payload.get("commonLabels"), "commonLabels")
    out = {"opened": [], "closed": [], "duplicates": 0, "rejected": []}
    services = state.ingestor.services
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict) or alert.get("status") not in ("firing", "resolved"):
            out["rejected"].append({"index": index, "error": "each alert needs status firing or resolved"})
            continue
        try:
            labels = {**common, **_labels(alert.get("labels"), "labels")}
            annotations = _labels(alert.get("annotations"), "annotations")
        except ValueError as exc:
            out["rejected"].append({"index": index, "error": str(exc)})
            continue
        fingerprint = _fingerprint(alert)
        with state.db.transaction() as cur:
            if alert["status"] == "resolved":
                closed = alert_sql.resolve(cur, fingerprint)
                if closed is not None:
                    out["closed"].append(closed)
                continue
            found = alert_sql.linked(cur, fingerprint)
            if found and found[1] == "firing" and found[2] != "resolved":
                out["duplicates"] += 1
                continue
            about = subject(labels, state.topology.inventory, services)
            service, host = about.service, about.host
            try:
                starts = parse_timestamp(alert.get("startsAt")) if alert.get("startsAt") else _now()
            except RecordError:
                starts = _now()
            name = labels.get("alertname", "alert")[:NAME_MAX]
            summary = annotations.get("summary", "")
            incident_id = incident_sql.open_incident(
                cur, _text(f"alert {name}" + (f": {summary}" if summary else ""), TITLE_MAX), "alert",
                SEVERITY.get(str(labels.get("severity", "")).lower(), "error"), service, host,
                about.services, starts - LOOKBACK, max(starts + timedelta(minutes=1), min(_now(), starts + LOOKBACK)),
                _now())
            alert_sql.link(cur, fingerprint, incident_id, name)
            out["opened"].append(incident_id)
    if out["opened"]:
        state.investigations.wake()
    return out


@router.post("/alerts/alertmanager", openapi_extra=wire.body(wire.ALERTMANAGER))
async def alertmanager(request: Request):
    payload = await read_json_body(request, ALERT_BODY_MAX_BYTES)   # 413 above, 400 when unreadable
    try:
        return await run_in_threadpool(handle, request.app.state, payload if isinstance(payload, dict) else {})
    except ValueError as exc:
        raise fail(400, "invalid_alert", str(exc))
