"""Hybrid retrieval, the context packer and dependencies learned from logs, on seeded data
in the real MariaDB and FalkorDB."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from db import graph as cypher
from ingest.embedders import HashingEmbedder
from ingest.embedding import EmbeddingWorker
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.enrich import infer_edges, refresh_inferred
from retrieval.hybrid import HybridQuery, hybrid_search
from retrieval.packer import pack
from retrieval.search import TemplateQuery, search_templates
from retrieval.topology import load_inventory

INVENTORY = parse("""
hosts:
  db-host: {address: 10.9.0.18}
  app-host: {address: 10.9.0.20}
  ops-host: {address: 10.9.0.50}
services:
  mariadb: {type: database, hosts: [db-host], units: [mariadb.service], ports: [3306]}
  api:     {type: api, hosts: [app-host], depends_on: [mariadb]}
  backup:  {type: worker, hosts: [ops-host]}
  llm:     {type: llm, hosts: [app-host], aliases: [ollama]}
runbooks:
  - {id: disk-full, title: Disk full on a database host, services: [mariadb]}
""")
T0 = datetime(2026, 1, 20, 10, 0)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat() + "Z"


def rec(minutes, host, service, level, message):
    return {"timestamp": at(minutes), "host": host, "service": service, "level": level, "message": message}


@pytest.fixture
def seeded(db, graph):
    load_inventory(graph, INVENTORY)
    ingestor = Ingestor(db, services=ServiceMap(INVENTORY))
    history = [rec(-240 + i, "ops-host", "backup", "error", f"Error: write to backup file failed: job {i} aborted")
               for i in range(0, 200, 2)]                                   # old, steady, unrelated
    history += [rec(-240 + i, "app-host", "api", "info", f"GET /items/{i} 200") for i in range(0, 240, 3)]
    fault = [rec(i / 2, "db-host", "mariadb.service", "critical",
                 f"InnoDB: Error: space for table ./app/t{i} is exhausted") for i in range(30)]
    fault += [rec(1 + i / 2, "app-host", "api", "error", f"connection to 10.9.0.18:3306 refused (attempt {i})")
              for i in range(20)]
    ingestor.ingest(history)
    ingestor.ingest(fault)
    worker = EmbeddingWorker(db, HashingEmbedder(256))
    worker.backfill()
    return worker


def test_hybrid_puts_the_cause_first_where_pure_vector_search_does_not(db, graph, seeded):
    text = "Error: write to file failed"
    pure = search_templates(db, seeded.table(), seeded.embedder, TemplateQuery(text, k=5))
    pure_texts = [t["template"] for t in pure]
    cause = "InnoDB: Error: space for table <ID> is exhausted"
    assert pure_texts[0].startswith("Error: write to backup file failed")         # the red herring wins
    assert cause in pure_texts[1:] or cause not in pure_texts
    ranked = hybrid_search(db, seeded.table(), seeded.embedder, graph,
                           HybridQuery(text, services=["api"], since=T0 - timedelta(minutes=5),
                                       until=T0 + timedelta(minutes=20), k=5))
    assert ranked[0].text == cause
    top = ranked[0]
    assert top.id.startswith("template:") and top.services == ["mariadb"] and top.level == "critical"
    assert set(top.components) == {"semantic", "graph", "recency", "anomaly"}
    assert top.components["graph"] == 0.5 and top.components["anomaly"] == 1.0 and "graph" in top.sources
    assert top.examples[0]["id"].startswith("event:") and "exhausted" in top.examples[0]["message"]
    herring = next(e for e in ranked if e.text.startswith("Error: write to backup"))
    assert herring.components["graph"] == 0.0 and herring.components["semantic"] > top.components["semantic"]


def test_packer_stays_under_budget_and_orders_focus_first(db, graph, seeded):
    ctx = pack(db, graph, "api", T0 - timedelta(minutes=5), T0 + timedelta(minutes=20), budget=2000)
    assert ctx.services == {"api": 0, "mariadb": 1, "llm": 2}
    kinds = [(e.kind, e.services[0] if e.services else None) for e in ctx.evidence]
    assert kinds[0] == ("template", "api") and ("template", "mariadb") in kinds
    assert ctx.evidence[-1].id == "runbook:disk-full" or not any(e.kind == "runbook" for e in ctx.evidence)
    assert ctx.tokens <= 2000 and not ctx.truncated
    assert "[event:" in ctx.text and ctx.text.count("e.g.") <= 2 * len([e for e in ctx.evidence if e.kind == "template"])
    small = pack(db, graph, "api", T0 - timedelta(minutes=5), T0 + timedelta(minutes=20), budget=60)
    assert small.truncated and small.tokens <= 60 and len(small.evidence) < len(ctx.evidence)


def test_an_inferred_edge_appears_from_logs_and_ages_out(db, graph, seeded):
    Ingestor(db, services=ServiceMap(INVENTORY)).ingest(
        [rec(2 + i, "ops-host", "backup", "warning", f"upstream ollama timed out after {i}s") for i in range(3)])
    now = T0 + timedelta(minutes=10)
    edges = infer_edges(db, INVENTORY, now - timedelta(hours=1), now)
    pairs = {(e["source"], e["target"]): e for e in edges}
    assert set(pairs) == {("api", "mariadb"), ("backup", "llm")}
    assert pairs[("api", "mariadb")]["reason"].startswith("address+port: connection to 10.9.0.18:3306")
    assert pairs[("backup", "llm")]["confidence"] == 0.7 and len(pairs[("backup", "llm")]["evidence"]) == 1

    refresh_inferred(db, graph, INVENTORY, now, timedelta(hours=1))
    inferred = cypher.inferred_edges(graph)
    assert [(e["source"], e["target"]) for e in inferred] == [("backup", "llm")]   # api->mariadb is owned
    shown = cypher.neighborhood(graph, "backup", 1)["edges"]
    assert [(e["target"], e["inferred"]) for e in shown if e["type"] == "DEPENDS_ON"] == [("llm", True)]

    later = T0 + timedelta(hours=3)                                    # the evidence is out of the window
    refresh_inferred(db, graph, INVENTORY, later, timedelta(hours=1))
    assert cypher.inferred_edges(graph) == []
    assert cypher.upstream(graph, "api") == [("mariadb", 1)]           # owned edges untouched
