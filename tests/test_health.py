"""/health reports each dependency; /info reports versions and counts."""
from __future__ import annotations

from fastapi.testclient import TestClient

import server
from db.settings import GraphSettings
from tests.conftest import make_settings, record
from evals.live import free_port


def test_health_is_ok_with_both_databases(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    mariadb = body["dependencies"]["mariadb"]       # issue 14: whatever patch release Debian served
    assert mariadb["supported"] is True and mariadb["vector"] is True and mariadb["version"]
    assert body["dependencies"]["falkordb"]["status"] == "ok"


def test_health_says_which_dependency_is_down(db_urls):
    settings = make_settings(db_urls, graph=GraphSettings(url=f"redis://127.0.0.1:{free_port()}"))
    with TestClient(server.create_app(settings)) as c:
        response = c.get("/health")
        assert response.status_code == 503
        deps = response.json()["dependencies"]
        assert deps["falkordb"]["status"] == "down" and deps["mariadb"]["status"] == "ok"
        assert c.post("/ingest/logs", json={"logs": [record(1)]}).json()["accepted"] == 1


def test_info_counts_what_was_ingested(client):
    client.post("/ingest/logs", json={"logs": [record(i) for i in range(3)]})
    info = client.get("/info").json()
    assert info["counts"] == {"templates": 1, "events": 3, "events_exact": True}
    assert info["embedder"]["name"] == "hash-256" and info["canon_version"] >= 1
    assert info["mariadb"]["supported"] and info["mariadb"]["vector"]
    assert info["mariadb"]["version"] == client.get("/health").json()["dependencies"]["mariadb"]["version"]


def test_a_missing_table_says_to_migrate(client, db):
    with db.transaction() as cur:
        cur.execute("DROP TABLE incidents")
    response = client.get("/incidents")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "schema_missing" and "devmesh migrate" in response.json()["error"]["message"]


def test_the_server_migrates_at_start(db_urls, base_urls):
    from db.pool import Database

    fresh = Database(base_urls[0])
    name = f"devmesh_t_empty_{db_urls[0].database[-6:]}"
    with fresh.transaction() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        url = base_urls[0].with_database(name)
        settings = make_settings((url, base_urls[1].with_database(name)))
        with TestClient(server.create_app(settings)) as c:
            assert c.get("/incidents").json() == {"incidents": []}
    finally:
        with fresh.transaction() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        fresh.close()

