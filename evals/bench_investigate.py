"""`devmesh bench investigate`: latency of the whole investigate graph (no LLM).

Default: the seeded cascade of evals/scenarios.py (~4 h of history for five services, one
detector incident). `--services N`: a fleet-wide incident (opened from outside, no service)
over N services that call each other with trace ids: a gateway, a middle tier and leaves,
4 h of history, then one leaf slows and its callers start failing."""
from __future__ import annotations

import random
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from db import incidents as incident_sql
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


def fleet(services: int, t0: datetime, hours: float = 4.0, fault_minutes: int = 10, per_minute: int = 20,
          seed: int = 7) -> tuple[str, list[dict], str]:
    """(inventory text, records, the slowed leaf): N services in three tiers, every request a
    trace through the gateway, one middle service and two of its leaves."""
    rng = random.Random(seed)
    mids = max(2, services // 7)
    names = ["gateway"] + [f"mid-{i:02d}" for i in range(mids)] + [f"leaf-{i:02d}" for i in range(services - 1 - mids)]
    leaves = names[1 + mids:]
    children = {m: leaves[i::mids] for i, m in enumerate(names[1:1 + mids])}
    inventory = "services:\n" + "".join(f"  {n}: {{hosts: [node-{i % 8}], units: [{n}.service]}}\n"
                                           for i, n in enumerate(names))
    culprit = rng.choice(leaves)
    records = []
    minutes = int(hours * 60) + fault_minutes
    start = t0 - timedelta(hours=hours)
    for m in range(minutes):
        faulty = m >= hours * 60
        for r in range(per_minute):
            at = start + timedelta(minutes=m, seconds=r * 60 / per_minute)
            trace = f"{rng.getrandbits(64):016x}"
            mid = rng.choice(list(children))
            calls = rng.sample(children[mid], min(2, len(children[mid])))

            def put(ms: float, service: str, message: str, level: str = "info") -> None:
                records.append({"timestamp": (at + timedelta(milliseconds=ms)).isoformat() + "Z",
                                "host": f"node-{names.index(service) % 8}", "service": f"{service}.service",
                                "level": level, "message": message, "trace_id": trace})
            put(0, "gateway", f"GET /api/{mid}/{rng.randrange(9999)} received")
            put(1, mid, "handling request")
            t = 2.0
            failed = False
            for leaf in calls:
                took = rng.uniform(3, 12) * (40 if faulty and leaf == culprit else 1)
                put(t, leaf, "query started")
                put(t + took, leaf, f"query done in {took:.0f} ms")
                t += took + 1
                if faulty and leaf == culprit and took > 150:
                    put(t, mid, f"call to {leaf} timed out after 150 ms", "error")
                    failed = True
            put(t + 1, mid, "request failed" if failed else "request done", "error" if failed else "info")
            put(t + 2, "gateway", f"{502 if failed else 200} in {t + 2:.0f} ms", "warning" if failed else "info")
    return inventory, records, culprit


@contextmanager
def _scratch(url: DBUrl, graph_url: str, prefix: str):
    """A scratch database and graph, dropped afterwards."""
    scratch_url = scratch.create_database(url, prefix)
    db = Database(scratch_url)
    graph = Graph(graph_url, f"devmesh_bench_{scratch_url.database}")
    try:
        yield db, graph
    finally:
        db.close()
        graph.drop()
        graph.close()
        scratch.drop_database(scratch_url)


def _time(incident: int, context: Context, runs: int) -> tuple[list[float], str | None]:
    timings, root = [], None
    for _ in range(runs):
        start = time.perf_counter()
        state = investigate(incident, context)
        timings.append((time.perf_counter() - start) * 1e3)
        root = state["report"]["root_cause_service"]
    return timings, root


def run_fleet(url: DBUrl, graph_url: str, services: int, runs: int = 10) -> dict:
    t0 = datetime(2026, 3, 2, 12, 0)
    text, records, culprit = fleet(services, t0)
    inventory = parse(text)
    with _scratch(url, graph_url, "benchfleet") as (db, graph):
        load_inventory(graph, inventory)
        for _ in Ingestor(db, services=ServiceMap(inventory)).ingest_stream(
                records[i:i + 5000] for i in range(0, len(records), 5000)):
            pass
        until = t0 + timedelta(minutes=6)
        with db.transaction() as cur:
            incident = incident_sql.open_incident(cur, "whole fleet", "manual", "error", None, None, [],
                                                  until - timedelta(minutes=15), until, until)
        timings, root = _time(incident, Context(db, graph, now=lambda: until), runs)
    return {"services": services, "lines": len(records), "runs": runs, "root_cause": root, "expected": culprit,
            "p50_ms": _pct(timings, 50), "p95_ms": _pct(timings, 95)}


def run(url: DBUrl, graph_url: str, runs: int = 20) -> dict:
    inventory = parse(CASCADE_INVENTORY)
    with _scratch(url, graph_url, "benchinv") as (db, graph):
        load_inventory(graph, inventory)
        Ingestor(db, services=ServiceMap(inventory)).ingest(cascade())
        incident = None
        for minute in range(-1, 16):
            opened = run_cycle(db, graph, DetectorSettings(), CASCADE_T0 + timedelta(minutes=minute),
                               ServiceMap(inventory).names()).opened
            incident = incident or (opened[0] if opened else None)
        if incident is None:
            raise RuntimeError("the seeded cascade opened no incident")
        timings, root = _time(incident, Context(db, graph), runs)
    return {"runs": runs, "root_cause": root, "p50_ms": _pct(timings, 50), "p95_ms": _pct(timings, 95)}
