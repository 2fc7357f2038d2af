"""Issue 19, versions from deploy lines: a service that puts no version in its log meta says
which one runs when it starts ("Starting ledger version 1.4.2"); an exception logged after
such a line on the same host is that version's, so its frames map to that version's code.
The captured ledger traceback (evals/exceptions), its meta version removed, run twice: once
after 1.4.2 started, once after 1.5.0; a third host that never said stays unversioned."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from db import exception_reads
from ingest.exceptions import deploy_version
from ingest.pipeline import Ingestor

EXC = Path(__file__).resolve().parent.parent / "evals" / "exceptions"
T0 = datetime(2026, 3, 1, 9, 0)


def _at(record: dict, ts: datetime, **fields) -> dict:
    meta = {k: v for k, v in (record.get("meta") or {}).items() if k != "version"}
    return {**record, "timestamp": ts.isoformat() + "Z", "meta": meta, **fields}


def test_an_exception_takes_the_version_its_hosts_last_deploy_line_named(db):
    records = [json.loads(line) for line in (EXC / "captured" / "ledger.jsonl").read_text().splitlines()]
    runs = [[r for r in records if r["meta"]["run"] == n] for n in (0, 1)]
    start = {"host": "eval-1", "service": "ledger", "level": "info"}
    lines = [{**start, "timestamp": T0.isoformat() + "Z", "message": "Starting ledger version 1.4.2 (pid 4121)"}]
    lines += [_at(r, T0 + timedelta(minutes=1, milliseconds=i)) for i, r in enumerate(runs[0])]
    lines += [{**start, "timestamp": (T0 + timedelta(minutes=5)).isoformat() + "Z",
               "message": "deployed ledger release v1.5.0 to eval-1"},
              {**start, "timestamp": (T0 + timedelta(minutes=6)).isoformat() + "Z",   # same version: no new row
               "message": "Starting ledger version v1.5.0 (pid 4388)"}]
    lines += [_at(r, T0 + timedelta(minutes=7, milliseconds=i)) for i, r in enumerate(runs[1])]
    lines += [_at(r, T0 + timedelta(minutes=8, milliseconds=i), host="eval-2") for i, r in enumerate(runs[1])]
    lines.append({**start, "timestamp": (T0 + timedelta(minutes=9)).isoformat() + "Z", "message": "INFO ledger idle"})
    lines.append({**start, "host": "eval-2", "timestamp": (T0 + timedelta(minutes=9)).isoformat() + "Z",
                  "message": "INFO ledger idle"})
    result = Ingestor(db).ingest(lines)
    assert not result.rejected
    (cluster,) = exception_reads.list_clusters(db)
    logged = db.fetchall("SELECT host, version FROM exception_events ORDER BY ts")
    assert logged == [("eval-1", "1.4.2"), ("eval-1", "v1.5.0"), ("eval-2", None)]
    assert db.fetchall("SELECT version FROM deploy_versions ORDER BY seen_at") == [("1.4.2",), ("v1.5.0",)]
    assert {v["version"] for v in exception_reads.versions(db, cluster["id"])} == {"1.4.2", "v1.5.0", None}
    # lines that only look like it are not deploys
    assert deploy_version("Started Session 42 of user root.") is None
    assert deploy_version("charge 8812 declined, retry 3 of version 2 API") is None
