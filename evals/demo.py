"""`devmesh demo`: a golden case played into a running server, so a new user sees an
incident open, the investigation run and its report appear.

History goes in at once, shifted so the fault starts now; then the fault's lines are sent
as they happen, `speed` times faster than real time, stamped with the wall clock, so the
server's own detector loop (every minute) sees them live.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx

from evals.cases import Case
from ingest.normalize import parse_timestamp


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _post(client: httpx.Client, url: str, records: list[dict]) -> None:
    for i in range(0, len(records), 1000):
        response = client.post(f"{url}/ingest/logs", json={"logs": records[i:i + 1000]})
        response.raise_for_status()


def schedule(case: Case, start: datetime, speed: float) -> tuple[list[dict], list[dict]]:
    """(history, fault) as the demo sends them: history shifted so the fault starts at
    `start`; the fault's lines stamped when they are due, `speed` times faster than they
    happened, in order."""
    records = case.records()
    shift = start - case.start
    history = [{**r, "timestamp": (parse_timestamp(r["timestamp"]) + shift).isoformat() + "Z"}
               for r in records if parse_timestamp(r["timestamp"]) < case.start]
    fault = sorted((r for r in records if parse_timestamp(r["timestamp"]) >= case.start),
                   key=lambda r: r["timestamp"])
    due = [{**r, "timestamp": (start + (parse_timestamp(r["timestamp"]) - case.start) / speed).isoformat() + "Z"}
           for r in fault]
    return history, due


def replay(case: Case, url: str, speed: float, token: str | None, say) -> dict | None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = httpx.Client(timeout=30, headers=headers)
    try:
        client.get(f"{url}/health").raise_for_status()
    except httpx.HTTPError as exc:
        raise SystemExit(f"no DevMesh server at {url} ({exc}); start it with `make run`") from None
    start = _now()
    history, fault = schedule(case, start, speed)
    say(f"{case.slug}: {case.title}")
    first = parse_timestamp(history[0]["timestamp"]) if history else start
    say(f"sending {len(history)} lines of history ({int((start - first).total_seconds() // 60)} min)...")
    _post(client, url, history)
    span = (case.end - case.start).total_seconds() / speed
    say(f"playing {len(fault)} lines of the window in {span:.0f} s; watch `devmesh incidents`")
    say("when it is over the fleet goes quiet all at once: that is no service's silence, and opens nothing")
    pending = list(fault)
    began = time.monotonic()
    while pending:
        elapsed = time.monotonic() - began
        due = [r for r in pending if (parse_timestamp(r["timestamp"]) - start).total_seconds() <= elapsed]
        if due:
            stamp = _now()
            _post(client, url, [{**r, "timestamp": (stamp - timedelta(microseconds=len(due) - i)).isoformat() + "Z"}
                                for i, r in enumerate(due)])
            pending = pending[len(due):]
        time.sleep(1)
    say("fault played; waiting for the report (the detector loop runs every minute)...")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        incidents = client.get(f"{url}/incidents", params={"since": start.isoformat() + "Z"}).json()["incidents"]
        reported = [i for i in incidents if i["status"] == "reported"]
        if reported:
            full = client.get(f"{url}/incidents/{reported[-1]['id']}").json()
            say(f"incident {full['id']}: {full['title']}")
            say(full["report"]["root_cause_hypothesis"])
            say(f"see it whole: curl {url}/incidents/{full['id']}  or  devmesh incidents")
            return full
        time.sleep(2)
    say("no report yet; check `devmesh incidents` and the server log")
    return None
