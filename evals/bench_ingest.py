"""`devmesh bench ingest`: the whole pipeline vs a plain multi-row INSERT of the same rows.

Both write into the same MariaDB in the same run, batch by batch, one transaction per
batch, into tables with the same columns and indexes. The pipeline figure includes
normalizing, hashing, canonicalizing, template upserts and rollups, run as `devmesh
import` runs it (`ingest_stream`: the next batch is prepared while one is written); the
sequential figure is one batch after the other, as a single HTTP client gets it. The raw
figure is only a plain multi-row INSERT of the finished event rows.
"""
from __future__ import annotations

import time

from db import scratch, stats
from db.pool import Database
from db.settings import DBUrl
from evals.workload import records
from ingest.pipeline import IngestSettings, Ingestor, process_batch
from ingest.templates import clear_caches


def run(url: DBUrl, settings: IngestSettings, lines: int = 50_000, batch_size: int = 1000) -> dict:
    data = records(lines)
    batches = [data[i:i + batch_size] for i in range(0, len(data), batch_size)]
    scratch_url = scratch.create_database(url, "bench")
    db = Database(scratch_url)
    try:
        clear_caches()
        start = time.perf_counter()
        prepared = [process_batch(b) for b in batches]
        prepare_s = time.perf_counter() - start

        clear_caches()
        start = time.perf_counter()
        for _ in Ingestor(db, settings).ingest_stream(batches):
            pass
        pipeline_s = time.perf_counter() - start
        del prepared

        # the same lines again, one request at a time (HTTP's shape), into a second database
        clear_caches()
        sequential_url = scratch.create_database(url, "bench")
        sequential_db = Database(sequential_url)
        try:
            start = time.perf_counter()
            ingestor = Ingestor(sequential_db, settings)
            for batch in batches:
                ingestor.ingest(batch)
            sequential_s = time.perf_counter() - start
        finally:
            sequential_db.close()
            scratch.drop_database(sequential_url)

        rows = scratch.stored_events(db)
        scratch.create_raw_events_copy(db)
        raw_batches = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
        start = time.perf_counter()
        for batch in raw_batches:
            with db.transaction() as cur:
                scratch.insert_raw_events(cur, batch)
        raw_s = time.perf_counter() - start
        templates = stats.counts(db)["templates"]
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    pipeline = lines / pipeline_s
    raw = len(rows) / raw_s
    return {"lines": lines, "batch_size": batch_size, "templates": int(templates),
            "prepare_lines_per_s": round(lines / prepare_s),
            "pipeline_sequential_lines_per_s": round(lines / sequential_s),
            "pipeline_lines_per_s": round(pipeline), "raw_insert_rows_per_s": round(raw),
            "ratio": round(pipeline / raw, 3)}
