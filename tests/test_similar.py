"""Issue 21: an investigation remembers what it concluded; a later incident finds the
resolved ones like it, says what was found then and whether a person accepted it; the past
verdict reaches a ranking only through root_cause_clues' small named weight."""
from __future__ import annotations

from datetime import timedelta

import pytest

from db import incidents as incident_sql
from db import lifecycle
from db import memory as memory_sql
from evals.scenarios import cascade
from graphs.investigate import Context, investigate
from ingest.embedders import HashingEmbedder
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.similar import PAST_ROOT_CAUSE_WEIGHT, feedback_summary, find_similar, root_cause_clues
from retrieval.topology import load_inventory
from tests.test_investigation import INVENTORY, T0, detect


@pytest.fixture
def seeded(db, graph):
    """The seeded cascade (disk full on db-host -> api -> gateway) in the test's database and graph."""
    load_inventory(graph, INVENTORY)
    Ingestor(db, services=ServiceMap(INVENTORY)).ingest(cascade())
    return db, graph


EMBEDDER = HashingEmbedder(128)


def _resolve(db, incident_id, verdict, service=None):
    with db.transaction() as cur:
        lifecycle.transition(cur, incident_id, "resolve", T0 + timedelta(hours=1))
    incident_sql.add_feedback(db, incident_id, verdict, service, None, None)


def _manual(db, title, services, opened_minutes):
    with db.transaction() as cur:
        return incident_sql.open_incident(cur, title, "manual", "error", None, None, services, T0,
                                          T0 + timedelta(minutes=15), T0 + timedelta(minutes=opened_minutes))


def test_a_later_incident_finds_the_resolved_one_and_its_verdict(seeded):
    db, graph = seeded
    first = detect(db, graph)[0]
    ctx = Context(db, graph, embedder=EMBEDDER, now=lambda: T0 + timedelta(minutes=20))
    assert investigate(first, ctx)["report"]["similar_incidents"] == []        # nothing before it
    later = _manual(db, "api errors again", ["api"], 40)
    investigate(later, ctx)
    assert find_similar(db, EMBEDDER, later) == []        # the first is not resolved yet: not a past incident
    _resolve(db, first, "accept")
    unrelated = _manual(db, "reports batch slow", ["reports"], 30)
    with db.transaction() as cur:
        memory_sql.save(cur, unrelated, "reports batch slow", [], ["reports"], "reports", None)
    _resolve(db, unrelated, "reject", "kernel")
    found = find_similar(db, EMBEDDER, later)
    assert [f["incident_id"] for f in found] == [first]
    past = found[0]
    assert past["root_cause_service"] == "mariadb" and past["verdict"]["verdict"] == "accept"
    assert past["verified_root_cause"] == "mariadb" and past["shared_template_ids"]
    assert past["components"]["templates"] > 0 and past["components"]["services"] > 0
    report = investigate(later, ctx)
    assert [s["incident_id"] for s in report["report"]["similar_incidents"]] == [first]
    assert f"- [incident:{first}]" in report["markdown"] and "found mariadb on db-host then; accepted" in \
        report["markdown"]
    clues = root_cause_clues(found)
    assert set(clues) == {"mariadb"} and 0 < clues["mariadb"] <= PAST_ROOT_CAUSE_WEIGHT
    assert find_similar(db, EMBEDDER, 10**9) is None


def test_a_rejected_verdict_gives_the_corrected_root_cause_as_the_clue(seeded):
    db, graph = seeded
    first = detect(db, graph)[0]
    ctx = Context(db, graph, embedder=EMBEDDER, now=lambda: T0 + timedelta(minutes=20))
    investigate(first, ctx)
    _resolve(db, first, "reject", "kernel")
    later = _manual(db, "database errors", ["mariadb"], 40)
    investigate(later, ctx)
    found = find_similar(db, EMBEDDER, later)
    assert found[0]["verdict"]["verdict"] == "reject" and found[0]["verified_root_cause"] == "kernel"
    assert set(root_cause_clues(found)) == {"kernel"}
    summary = feedback_summary(db)
    assert sum(summary["by_detector"]["catastrophic"].values()) == 1
    assert summary["by_detector"]["catastrophic"]["reject"] == 1
    assert sum(v["reject"] for v in summary["by_rule"].values()) == 1


def test_unknown_incident_is_a_404(client):
    r = client.get("/incidents/123456/similar")
    assert r.status_code == 404 and "GET /incidents" in r.json()["error"]["message"]


def test_feedback_counts_show_in_metrics_and_info(client):
    opened = client.post("/incidents", json={"service": "mariadb"}).json()
    assert client.post(f"/incidents/{opened['id']}/feedback", json={"verdict": "reject",
                                                                    "root_cause_service": "kernel"}).status_code == 201
    info = client.get("/info").json()["feedback"]
    assert info["by_detector"] == {"none": {"accept": 0, "reject": 1, "partial": 0}}   # opened by hand: no detector
    assert sum(v["reject"] for v in info["by_rule"].values()) == 1
    metrics = client.get("/metrics").text
    assert 'devmesh_feedback_by_detector{detector="none",verdict="reject"} 1.0' in metrics
    assert 'devmesh_feedback_by_detector{detector="none",verdict="accept"} 0.0' in metrics


def test_the_route_lists_the_resolved_incident_like_it_with_its_verdict(db_urls):
    """GET /incidents/{id}/similar over HTTP: what was found then and the verdict."""
    from fastapi.testclient import TestClient

    import server
    from graphs.worker import InvestigationSettings
    from tests.conftest import make_settings

    app = server.create_app(make_settings(db_urls, investigate=InvestigationSettings(workers=0)))
    with TestClient(app) as client:
        try:
            db = app.state.db
            first = _manual(db, "disk full on the database", ["mariadb", "api"], 20)
            later = _manual(db, "database errors again", ["mariadb"], 40)
            other = _manual(db, "reports batch slow", ["reports"], 30)
            with db.transaction() as cur:
                memory_sql.save(cur, first, "disk full on the database", [11, 12], ["mariadb", "api"], "mariadb",
                                "db-host")
                memory_sql.save(cur, later, "database errors again", [11], ["mariadb"], None, None)
                memory_sql.save(cur, other, "reports batch slow", [99], ["reports"], "reports", None)
            _resolve(db, first, "accept")
            _resolve(db, other, "accept")
            found = client.get(f"/incidents/{later}/similar").json()
            assert found["incident_id"] == later
            assert [s["incident_id"] for s in found["similar"]] == [first]      # nothing shared with the other
            past = found["similar"][0]
            assert (past["root_cause_service"], past["verdict"]["verdict"]) == ("mariadb", "accept")
            assert past["shared_template_ids"] == [11] and past["shared_services"] == ["mariadb"]
        finally:
            app.state.graph.drop()
