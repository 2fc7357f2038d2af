"""The read-only tools agents call: one envelope each (status, data, what was searched,
truncated), real answers from a seeded database and graph, bad arguments as data."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from db.pool import Database
from ingest.embedders import HashingEmbedder
from ingest.embedding import EmbeddingWorker
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from retrieval.topology import load_inventory
from tools import catalog
from tools.catalog import ToolContext
from tools.lc import ALIASES, build

NOW = datetime(2026, 1, 20, 10, 30)
INVENTORY = parse("""
services:
  mariadb: {hosts: [db-1]}
  api: {hosts: [app-1], depends_on: [mariadb]}
runbooks:
  - {id: disk-full, title: Free disk space on the database host, services: [mariadb]}
""")


def seeded(db_urls, graph) -> tuple[ToolContext, Database]:
    rw = Database(db_urls[0])
    lines = []
    for i in range(10):
        at = (NOW - timedelta(minutes=12 - i)).isoformat() + "Z"
        lines += [{"timestamp": at, "host": "db-1", "service": "mariadb", "level": "info",
                   "message": f"Checkpoint {i} written"},
                  {"timestamp": at, "host": "app-1", "service": "api", "level": "error",
                   "message": f"Lost connection to MySQL server during query req={i}"}]
    lines.append({"timestamp": (NOW - timedelta(minutes=2)).isoformat() + "Z", "host": "db-1", "service": "mariadb",
                  "level": "error", "message": "InnoDB: No space left on device"})
    Ingestor(rw).ingest(lines)
    load_inventory(graph, INVENTORY)
    worker = EmbeddingWorker(rw, HashingEmbedder(64))
    worker.backfill()
    ro = Database(db_urls[1])                                   # what the tools read through
    return ToolContext(ro, graph, worker.embedder, worker.table, lambda: NOW), rw


def test_every_tool_answers_in_the_envelope(db_urls, graph):
    ctx, rw = seeded(db_urls, graph)
    event_id = rw.fetchone("SELECT id FROM log_events WHERE message LIKE 'InnoDB%'")[0]
    template_id = rw.fetchone("SELECT template_id FROM log_events WHERE id = ?", (event_id,))[0]
    args = {"search_templates": {"query": "disk full"}, "query_logs": {"service": "api", "level": "error"},
            "get_service_overview": {"service": "api"}, "compare_windows": {"minutes": 5},
            "blast_radius": {"service": "mariadb"}, "get_incident": {"incident_id": 1}, "latest_incidents": {},
            "get_template_stats": {"template_id": template_id}, "get_log_context": {"event_id": event_id},
            "upstream_dependencies": {"service": "api"}, "graph_neighborhood": {"node": "mariadb"},
            "find_runbooks": {"service": "mariadb"}}
    tools = build(ctx, lambda text: text)
    assert {t.name for t in tools} == set(args) and set(ALIASES.values()) <= set(args)
    for t in tools:
        out = json.loads(t.invoke(args[t.name]))
        assert out["status"] in ("ok", "no_data", "error") and "searched" in out and "truncated" in out, t.name
    assert json.loads(tools[5].invoke({"incident_id": 1}))["status"] == "no_data"        # no incidents yet
    rw.close()
    ctx.db.close()


def test_template_stats_context_and_upstream_read_the_real_data(db_urls, graph):
    ctx, rw = seeded(db_urls, graph)
    event_id, template_id = rw.fetchone("SELECT id, template_id FROM log_events WHERE message LIKE 'Lost%' "
                                        "ORDER BY ts DESC LIMIT 1")
    stats = catalog.get_template_stats(ctx, template_id)
    assert stats.data["in_window"] == 10 and stats.data["by_service_host"] == {"api@app-1": 10}
    assert sum(stats.data["per_5_minutes"].values()) == 10 and stats.data["level"] == "error"

    db_event = rw.fetchone("SELECT id FROM log_events WHERE message LIKE 'InnoDB%'")[0]
    around = catalog.get_log_context(ctx, db_event, before=3, after=3).data
    assert [e["is_the_event"] for e in around] == [False, False, False, True]            # nothing after it
    assert all(e["service"] == "mariadb" for e in around)                                 # the same host only
    assert [e["ts"] for e in around] == sorted(e["ts"] for e in around)
    assert catalog.get_log_context(ctx, 99999999).status == "no_data"

    assert catalog.upstream_dependencies(ctx, "api").data == [{"service": "mariadb", "hops": 1}]
    assert catalog.upstream_dependencies(ctx, "mariadb").status == "no_data"
    assert [b["id"] for b in catalog.find_runbooks(ctx, ["mariadb"]).data] == ["disk-full"]
    changed = catalog.compare_windows(ctx, None, (NOW - timedelta(minutes=20), NOW - timedelta(minutes=5)),
                                      (NOW - timedelta(minutes=5), NOW))
    assert [t["template"] for t in changed.data["new"]] == ["InnoDB: No space left on device"]
    rw.close()
    ctx.db.close()


def test_bad_arguments_from_a_model_are_data_not_crashes(db_urls, graph):
    from agents.tool_calls import ToolCalls

    ctx, rw = seeded(db_urls, graph)
    runner = ToolCalls(build(ctx, lambda text: text))
    out = json.loads(runner.run("get_log_context", {"event_id": "not-a-number"}))
    assert out["status"] == "error" and "get_log_context failed on its arguments" in out["hint"]
    rw.close()
    ctx.db.close()


def test_a_dead_database_is_raised_not_handed_to_the_model(db_urls, graph):
    import dataclasses

    import pytest

    from agents.tool_calls import ToolCalls
    from db.pool import DatabaseUnavailable
    from evals.live import free_port

    dead = Database(dataclasses.replace(db_urls[1], port=free_port()), connect_timeout_s=1)
    ctx = ToolContext(dead, graph, HashingEmbedder(64), lambda: "template_embeddings_1", lambda: NOW)
    events = []
    with pytest.raises(DatabaseUnavailable):
        ToolCalls(build(ctx, lambda text: text), events.append).run("query_logs", {"service": "api"})
    assert [(e["status"], e.get("outcome")) for e in events] == [("start", None), ("end", "error")]


def test_out_of_range_arguments_are_refused_by_the_schema(db_urls, graph):
    """Bug: the 0.5B model asked compare_windows for minutes=10**20; timedelta overflowed and
    the agent died. Fix: bounds in the argument schemas (the model and a JSON-schema grammar
    see them; outside them is an argument error handed back)."""
    from agents.planner import step_schema
    from agents.tool_calls import ToolCalls

    ctx, rw = seeded(db_urls, graph)
    by_name = {t.name: t for t in build(ctx, lambda text: text)}
    events = []
    runner = ToolCalls(list(by_name.values()), events.append)
    out = json.loads(runner.run("compare_windows", {"minutes": 10**20}))
    assert out["status"] == "error" and "compare_windows failed on its arguments" in out["hint"]
    assert events[-1]["outcome"] == "error" and "bad arguments" in events[-1]["summary"]
    args = step_schema([by_name["get_service_overview"]])["anyOf"][0]["properties"]["args"]["properties"]
    assert (args["minutes"]["minimum"], args["minutes"]["maximum"]) == (1, 10080)
    rw.close()
    ctx.db.close()
