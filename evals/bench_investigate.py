"""`devmesh bench investigate`: latency of the whole investigate graph (no LLM) on the
seeded cascade of evals/scenarios.py: ~4 h of history for five services, one incident."""
from __future__ import annotations

import time
from datetime import timedelta

from db import scratch
from db.graph import Graph
from db.pool import Database
from db.settings import DBUrl
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from evals.bench_search import _pct
from evals.scenarios import CASCADE_INVENTORY, CASCADE_T0, cascade
from graphs.investigate import Context, investigate
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory


def run(url: DBUrl, graph_url: str, runs: int = 20) -> dict:
    inventory = parse(CASCADE_INVENTORY)
    scratch_url = scratch.create_database(url, "benchinv")
    db = Database(scratch_url)
    graph = Graph(graph_url, f"devmesh_bench_{scratch_url.database}")
    try:
        load_inventory(graph, inventory)
        Ingestor(db, services=ServiceMap(inventory)).ingest(cascade())
        incident = None
        for minute in range(-1, 16):
            opened = run_cycle(db, graph, DetectorSettings(), CASCADE_T0 + timedelta(minutes=minute),
                               ServiceMap(inventory).names()).opened
            incident = incident or (opened[0] if opened else None)
        if incident is None:
            raise RuntimeError("the seeded cascade opened no incident")
        timings, root = [], None
        for _ in range(runs):
            start = time.perf_counter()
            state = investigate(incident, Context(db, graph))
            timings.append((time.perf_counter() - start) * 1e3)
            root = state["report"]["root_cause_service"]
    finally:
        db.close()
        graph.drop()
        graph.close()
        scratch.drop_database(scratch_url)
    return {"runs": runs, "root_cause": root, "p50_ms": _pct(timings, 50), "p95_ms": _pct(timings, 95)}
