"""`devmesh import loki`: pull history from a Loki server through query_range, forward,
page by page, into the same pipeline. Resumable: the last timestamp read is kept in a
state file, and re-read lines are duplicates the pipeline drops."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
from tqdm import tqdm

from ingest.loki import LokiSettings, _record
from ingest.pipeline import Ingestor


def _ns(dt: datetime) -> int:
    return int(dt.replace(tzinfo=timezone.utc).timestamp() * 1e9)


def pull(ingestor: Ingestor, url: str, query: str, since: datetime, until: datetime, state: Path | None,
         tenant: str | None = None, limit: int = 1000, settings: LokiSettings | None = None,
         client: httpx.Client | None = None, progress: bool = True) -> dict:
    settings = settings or LokiSettings()
    client = client or httpx.Client(timeout=60)
    headers = {"X-Scope-OrgID": tenant} if tenant else {}
    start, end = _ns(since), _ns(until)
    if state and state.exists():
        saved = json.loads(state.read_text())
        if saved.get("query") == query and saved.get("url") == url:
            start = max(start, int(saved["next_ns"]))
    totals = {"pages": 0, "lines": 0, "accepted": 0, "duplicates": 0, "rejected": 0, "unmapped": 0}
    bar = tqdm(total=max(0, end - start) // 1_000_000_000, unit="s", desc="loki", disable=not progress)
    first = start
    while start < end:
        for attempt in range(5):
            response = client.get(f"{url.rstrip('/')}/loki/api/v1/query_range", headers=headers, params={
                "query": query, "start": str(start), "end": str(end), "limit": str(limit), "direction": "forward"})
            if response.status_code < 500 and response.status_code != 429:
                break
            time.sleep(min(30, 2 ** attempt))
        if response.status_code != 200:
            raise RuntimeError(f"Loki answered {response.status_code} for query_range: {response.text[:300]}")
        data = response.json().get("data", {})
        if data.get("resultType") != "streams":
            raise RuntimeError(f"{query!r} is not a log query (Loki returned {data.get('resultType')!r})")
        records, newest = [], start
        for stream in data.get("result", []):
            labels = stream.get("stream", {})
            for value in stream.get("values", []):
                ns = int(value[0])
                newest = max(newest, ns)
                record = _record(labels, ns, value[1], value[2] if len(value) > 2 else {}, settings)
                record["source"] = "loki-import"
                records.append(record)
        totals["pages"] += 1
        totals["lines"] += len(records)
        if records:
            result = ingestor.ingest(records, hold=True)     # a trace may go on in the next page
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["rejected"] += len(result.rejected)
            totals["unmapped"] += result.unmapped
        bar.update((newest - start) // 1_000_000_000)
        # a full page may end mid-nanosecond: restart at the newest timestamp (duplicates are dropped)
        next_start = newest if len(records) >= limit and newest > start else newest + 1
        if not records or len(records) < limit:
            next_start = end
        start = next_start
        if state:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"url": url, "query": query, "next_ns": start}))
    flushed = ingestor.flush_pending(force=True)          # a stack trace the last page ended in
    totals["accepted"] += flushed.accepted
    totals["duplicates"] += flushed.duplicates
    bar.close()
    totals["from_ns"], totals["to_ns"] = first, end
    return totals
