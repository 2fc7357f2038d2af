"""The topology in a real FalkorDB: traversals, idempotent reloads, owned vs inferred edges,
and the /graph endpoints."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import server
from db import graph as cypher
from ingest.inventory import parse
from retrieval.topology import load_inventory
from tests.conftest import make_settings

FIXTURE = """
hosts:
  db-host: {address: 10.1.0.5}
  app-host: {}
  edge-host: {}
  far-host: {}
services:
  db:    {type: database, hosts: [db-host], units: [mariadb.service], ports: [3306]}
  cache: {type: database, hosts: [app-host]}
  api:   {type: api, hosts: [app-host], depends_on: [db, cache]}
  web:   {type: proxy, hosts: [edge-host], depends_on: [api]}
  batch: {type: worker, hosts: [db-host]}
  lonely: {type: worker, hosts: [far-host]}
edges:
  - {from: batch, to: db, type: CALLS, reason: nightly export}
runbooks:
  - {id: db-down, title: Database down, services: [db]}
"""


@pytest.fixture
def loaded(graph):
    load_inventory(graph, parse(FIXTURE))
    return graph


def test_traversals_return_exactly_the_expected_sets(loaded):
    assert cypher.upstream(loaded, "web") == [("api", 1), ("cache", 2), ("db", 2)]
    assert cypher.downstream(loaded, "db") == [("api", 1), ("batch", 1), ("web", 2)]
    assert cypher.upstream(loaded, "db") == [] and cypher.downstream(loaded, "lonely") == []
    assert cypher.co_hosted(loaded, "db") == [("batch", "db-host")]
    assert cypher.path(loaded, "web", "batch") == ["web", "api", "db", "batch"]
    assert cypher.path(loaded, "web", "lonely") == []
    around = cypher.neighborhood(loaded, "db", 1)
    assert {(n["label"], n["name"]) for n in around["nodes"]} == {
        ("Service", "db"), ("Service", "api"), ("Service", "batch"), ("Host", "db-host"), ("Runbook", "db-down")}
    assert {(e["source"], e["type"], e["target"]) for e in around["edges"]} == {
        ("api", "DEPENDS_ON", "db"), ("batch", "CALLS", "db"), ("db", "RUNS_ON", "db-host"),
        ("db", "RELATED_RUNBOOK", "db-down")}
    assert cypher.runbooks_for(loaded, ["db"]) == [{"id": "db-down", "title": "Database down", "path": "",
                                                    "services": ["db"]}]


def counts(graph) -> tuple[int, int]:
    return (graph.read("MATCH (n) RETURN count(n)")[0][0], graph.read("MATCH ()-[r]->() RETURN count(r)")[0][0])


def test_loading_twice_changes_nothing(loaded):
    before = counts(loaded)
    load_inventory(loaded, parse(FIXTURE))
    assert counts(loaded) == before


def test_reloading_an_edited_inventory_removes_what_was_removed_and_keeps_inferred_edges(loaded):
    cypher.replace_inferred(loaded, [{"source": "batch", "target": "cache", "confidence": 0.7, "evidence": [42],
                                      "last_seen": 1, "reason": "name: cache timeout"}])
    edited = FIXTURE.replace("  web:   {type: proxy, hosts: [edge-host], depends_on: [api]}\n", "") \
                    .replace("depends_on: [db, cache]", "depends_on: [db]")
    summary = load_inventory(loaded, parse(edited))
    assert summary["removed"] >= 2
    names = {s["name"] for s in cypher.services(loaded)}
    assert "web" not in names and "edge-host" not in {h["name"] for h in cypher.neighborhood(loaded, "api", 2)["nodes"]}
    assert cypher.upstream(loaded, "api") == [("db", 1)]
    assert [(e["source"], e["target"]) for e in cypher.inferred_edges(loaded)] == [("batch", "cache")]


def test_an_owned_edge_is_never_replaced_by_an_inferred_one(loaded):
    result = cypher.replace_inferred(loaded, [
        {"source": "api", "target": "db", "confidence": 0.9, "evidence": [1], "last_seen": 1, "reason": "x"},
        {"source": "web", "target": "db", "confidence": 0.9, "evidence": [2], "last_seen": 1, "reason": "y"}])
    assert result["added"] == 1
    edges = cypher.neighborhood(loaded, "db", 1)["edges"]
    api_db = [e for e in edges if e["source"] == "api"]
    assert len(api_db) == 1 and api_db[0]["owned"] and not api_db[0]["inferred"]
    web_db = [e for e in edges if e["source"] == "web"]
    assert web_db[0]["inferred"] and web_db[0]["confidence"] == 0.9 and web_db[0]["evidence"] == [2]
    # the operator then writes the inferred dependency down: the owned edge replaces it
    load_inventory(loaded, parse(FIXTURE.replace("depends_on: [api]}", "depends_on: [api, db]}")))
    assert cypher.inferred_edges(loaded) == []


def test_graph_endpoints(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(FIXTURE)
    settings = make_settings(db_urls, inventory)
    app = server.create_app(settings)
    try:
        with TestClient(app) as c:
            assert {s["name"] for s in c.get("/graph/services").json()["services"]} == {
                "db", "cache", "api", "web", "batch", "lonely"}
            impact = c.get("/graph/impact", params={"service": "db"}).json()
            assert [d["service"] for d in impact["downstream"]] == ["api", "batch", "web"]
            assert c.get("/graph/impact", params={"service": "nope"}).status_code == 404
            assert c.get("/graph/neighborhood", params={"node": "nope"}).status_code == 404
            assert c.get("/graph/path", params={"from": "web", "to": "db"}).json()["path"] == ["web", "api", "db"]
            inventory.write_text(FIXTURE + "  - {id: broken}\n")
            bad = c.post("/graph/reload")
            assert bad.status_code == 422 and "'id' and 'title' are required" in bad.json()["error"]["detail"][0]
            assert len(c.get("/graph/services").json()["services"]) == 6            # nothing changed
            inventory.write_text(FIXTURE.replace("  lonely: {type: worker, hosts: [far-host]}\n", ""))
            assert c.post("/graph/reload").json()["services"] == 5
            assert "lonely" not in {s["name"] for s in c.get("/graph/services").json()["services"]}
            assert c.get("/health").json()["dependencies"]["inventory"]["problems"] == []
    finally:
        app.state.graph.drop()


def test_a_broken_inventory_does_not_stop_the_server(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("services:\n  a: {depends_on: [b]}\n")
    settings = make_settings(db_urls, inventory)
    with TestClient(server.create_app(settings)) as c:
        state = c.get("/health").json()["dependencies"]["inventory"]
        assert state["status"] == "problems" and "unknown service 'b'" in state["problems"][0]
        assert c.post("/ingest/logs", json={"logs": []}).status_code == 200


def test_load_inventory_on_the_cli_reaches_the_running_server(db_urls, tmp_path):
    """Issue 14 (bug): `devmesh load-inventory PATH` while a server ran changed FalkorDB, but
    the server kept answering from the inventory it read at start (GET /graph/impact on a
    service only in PATH -> 404 unknown_node while the graph held it). Fix: the inventory in
    force is published in MariaDB (inventory_current) by whoever loads one; every server
    follows its generation."""
    import os
    import subprocess
    import sys

    from evals.live import wait_until
    from retrieval.topology import TopologySettings

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(FIXTURE)
    newer = tmp_path / "other.yaml"
    newer.write_text(FIXTURE.replace("  lonely: {type: worker, hosts: [far-host]}\n",
                                     "  queue: {type: queue, hosts: [mq-host], aliases: [rabbitmq], depends_on: [db]}\n")
                     .replace("  far-host: {}\n", "  mq-host: {}\n"))
    settings = make_settings(db_urls, topology=TopologySettings(inventory=inventory, infer_interval_s=0,
                                                               inventory_poll_s=0.1))
    app = server.create_app(settings)
    try:
        with TestClient(app) as c:
            assert c.get("/graph/impact", params={"service": "queue"}).status_code == 404
            before = c.get("/health").json()["dependencies"]["inventory"]
            env = {**os.environ, "DEVMESH_DB_URL": str(db_urls[0]), "DEVMESH_GRAPH_NAME": settings.graph.name}
            done = subprocess.run([sys.executable, "-m", "server", "load-inventory", str(newer)], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            wait_until(lambda: c.get("/graph/impact", params={"service": "queue"}).status_code == 200, 30,
                       "the server to follow the CLI's inventory")
            impact = c.get("/graph/impact", params={"service": "queue"}).json()
            assert impact["upstream"] == [{"service": "db", "hops": 1}]
            after = c.get("/health").json()["dependencies"]["inventory"]
            assert after["source"] == str(newer) and after["generation"] == before["generation"] + 1
            assert after["services"] == 6 and after["problems"] == []
            assert c.get("/graph/impact", params={"service": "lonely"}).status_code == 404     # left with the file
            c.post("/ingest/logs", json={"logs": [{"timestamp": "2026-01-20T10:00:00Z", "host": "mq-host",
                                                   "service": "rabbitmq", "message": "queue depth 10"}]})
            assert c.get("/query/logs", params={"service": "queue"}).json()["events"][0]["message"] == \
                "queue depth 10"                                  # ingest maps with the new inventory too
            again = subprocess.run([sys.executable, "-m", "server", "load-inventory", str(newer)], env=env,
                                   capture_output=True, text=True, timeout=120)
            assert '"generation": %d' % after["generation"] in again.stdout     # the same document: no new one
    finally:
        app.state.graph.drop()


def test_neighborhood_answers_once_an_incident_links_templates(db_urls, tmp_path):
    """Issue 24 (2). Bug: GET /graph/neighborhood answered 500 as soon as incidents existed:
    an incident links to templates, whose node names are numbers, and sorting them beside
    service names raised TypeError. Fix: nodes and edges are ordered by label, then name as
    text; each edge names its ends' labels."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(FIXTURE)
    app = server.create_app(make_settings(db_urls, inventory))
    try:
        with TestClient(app) as c:
            cypher.record_incident(app.state.graph, 7, "disk full on db-host (db)", ["db", "api"], ["db-host"],
                                   [{"id": 1754161695059639, "service": "db"}, {"id": 42, "service": "api"}])
            answer = c.get("/graph/neighborhood", params={"node": "db", "depth": 2})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            nodes = [(n["label"], n["name"]) for n in body["nodes"]]
            assert ("Incident", 7) in nodes and ("Template", 1754161695059639) in nodes and ("Service", "db") in nodes
            assert nodes == sorted(nodes, key=lambda n: (n[0], str(n[1])))
            edges = {(e["source_label"], e["source"], e["type"], e["target"]) for e in body["edges"]}
            assert {("Incident", 7, "AFFECTS", "db"), ("Incident", 7, "HAS_LOG", 1754161695059639),
                    ("Template", 1754161695059639, "EMITTED_BY", "db"), ("Incident", 7, "OBSERVED_ON", "db-host")} <= edges
            host = c.get("/graph/neighborhood", params={"node": "db-host"})
            assert host.status_code == 200 and ("Incident", 7) in {(n["label"], n["name"]) for n in host.json()["nodes"]}
    finally:
        app.state.graph.drop()
