"""Trace ids: who calls whom, where errors start, and the inferred edges they give."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

from db import events
from db import graph as cypher
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from retrieval.enrich import infer_edges, refresh_inferred
from retrieval.topology import load_inventory
from retrieval.traces import call_edges, error_origins

T0 = datetime(2026, 1, 20, 10, 0)
INVENTORY = parse("services:\n  web: {hosts: [a]}\n  api: {hosts: [b]}\n  db: {hosts: [c]}\n")


def request(n: int, db_fails: bool = False) -> list[dict]:
    """web -> api -> db: each callee's lines nest inside its caller's."""
    t = T0 + timedelta(seconds=n)
    trace = f"{n:032x}"

    def at(ms):
        return (t + timedelta(milliseconds=ms)).isoformat() + "Z"
    return [{"timestamp": at(0), "host": "a", "service": "web", "message": f"GET /page/{n}", "trace_id": trace},
            {"timestamp": at(1), "host": "b", "service": "api", "message": f"call {n}", "trace_id": trace},
            {"timestamp": at(2), "host": "c", "service": "db", "message": f"query {n}", "trace_id": trace,
             "level": "error" if db_fails else "info"},
            {"timestamp": at(8), "host": "c", "service": "db", "message": f"done {n} in 6ms", "trace_id": trace},
            {"timestamp": at(9), "host": "b", "service": "api", "message": f"call {n} ok", "trace_id": trace,
             "level": "error" if db_fails else "info"},
            {"timestamp": at(10), "host": "a", "service": "web", "message": f"GET /page/{n} 200", "trace_id": trace,
             "level": "error" if db_fails else "info"}]


def test_calls_and_error_origins_from_nested_spans(db):
    Ingestor(db).ingest([line for n in range(5) for line in request(n, db_fails=n >= 3)])
    spans = events.trace_spans(db, T0, T0 + timedelta(minutes=1))
    assert dict(call_edges(spans)) == {("web", "api"): 5, ("api", "db"): 5}
    assert dict(error_origins(spans)) == {"db": 2}


def test_traces_become_inferred_edges_the_inventory_lacked(db, graph):
    load_inventory(graph, INVENTORY)
    Ingestor(db).ingest([line for n in range(6) for line in request(n)])
    edges = {(e["source"], e["target"]): e for e in infer_edges(db, INVENTORY, T0, T0 + timedelta(minutes=5))}
    assert set(edges) == {("web", "api"), ("api", "db")}
    assert edges[("api", "db")]["reason"] == "trace: api calls db in 6 traces"
    refresh_inferred(db, graph, INVENTORY, T0 + timedelta(minutes=5), timedelta(hours=1))
    assert cypher.upstream(graph, "web") == [("api", 1), ("db", 2)]


def test_investigate_at_opens_and_investigates(db_urls, db):
    Ingestor(db).ingest([line for n in range(30) for line in request(n, db_fails=n >= 20)])
    env = {**os.environ, "DEVMESH_DB_URL": str(db_urls[0]), "DEVMESH_INVENTORY": "/nonexistent/inventory.yaml",
           "DEVMESH_GRAPH_NAME": f"devmesh_t_{db_urls[0].database}"}
    out = subprocess.run([sys.executable, "-m", "server", "investigate", "--at", (T0 + timedelta(minutes=1)).isoformat(),
                          "--window", "5m"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "opened incident" in out.stderr and "**Root cause:** db" in out.stdout
    incident = db.fetchone("SELECT service, `trigger`, window_start FROM incidents")
    assert incident[0] is None and incident[1] == "manual"
    report = json.loads(db.fetchone("SELECT report_json FROM incident_reports")[0])
    assert report["root_cause_service"] == "db" and report["history_minutes"] == 0
    bad = subprocess.run([sys.executable, "-m", "server", "investigate"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "--at" in bad.stderr
