"""GET /templates: plain text search over template text (issue 18; /search/templates is the
semantic one), on the real pipeline and MariaDB: every word must appear, case-insensitive,
a quoted phrase is one term, LIKE's wildcards are literal, filters by service, level and
window, busiest first and bounded, and hostile text is data."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import server
from retrieval.search import text_terms
from tests.conftest import make_settings, migrated_database, record

LINES = [("mariadb", "error", "Connection to 10.0.0.7:3306 refused after 3s", 5),
         ("api", "error", "upstream Connection refused by ledger", 3),
         ("api", "info", "GET /items 200 in 12 ms", 8),
         ("api", "warning", "disk full; quota most% used for user_home", 1),
         ("worker", "info", "job done; DROP TABLE log_templates; --", 2)]


@pytest.fixture(scope="module")
def stored(base_urls):
    """One app and database for the module: the tests only read."""
    with migrated_database(base_urls[0]) as name:
        app = server.create_app(make_settings((base_urls[0].with_database(name), base_urls[1].with_database(name))))
        with TestClient(app) as client:
            yield _ingested(client)
        app.state.graph.drop()


def _ingested(client):
    logs = [record(len(LINES) * n + k, service=service, level=level, message=message)
            for k, (service, level, message, times) in enumerate(LINES) for n in range(times)]
    assert client.post("/ingest/logs", json={"logs": logs}).json()["accepted"] == len(logs)
    return client


def texts(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["template"] for t in response.json()["templates"]]


def test_every_word_must_appear_case_insensitive_busiest_first(stored):
    found = texts(stored.get("/templates", params={"q": "connection REFUSED"}))
    assert len(found) == 2 and all("refused" in t.lower() and "connection" in t.lower() for t in found)
    assert "after" in found[0]                                             # 5 lines before 3
    assert texts(stored.get("/templates", params={"q": '"refused by"'})) == ["upstream Connection refused by ledger"]
    assert texts(stored.get("/templates", params={"q": "refused after ledger"})) == []
    body = stored.get("/templates", params={"query": "refused", "service": "api", "examples": 2}).json()
    assert [t["services"] for t in body["templates"]] == [["api"]]
    assert [e["service"] for e in body["templates"][0]["examples"]] == ["api", "api"]
    assert texts(stored.get("/templates", params={"q": "refused", "level": "info"})) == []
    assert texts(stored.get("/templates", params={"q": "refused", "since": "2026-01-21T00:00:00Z"})) == []


def test_no_words_lists_the_busiest_and_the_limit_says_there_is_more(stored):
    body = stored.get("/templates", params={"limit": 2}).json()
    assert [t["total_count"] for t in body["templates"]] == [8, 5] and body["truncated"] is True
    assert stored.get("/templates", params={"k": 10}).json()["truncated"] is False


def test_wildcards_and_sql_are_text(stored):
    assert texts(stored.get("/templates", params={"q": "%"})) == ["disk full; quota most% used for user_home"]
    assert texts(stored.get("/templates", params={"q": "r_h"})) == ["disk full; quota most% used for user_home"]
    assert texts(stored.get("/templates", params={"q": "D_OP"})) == []             # not DROP
    assert texts(stored.get("/templates", params={"q": "'; DROP TABLE log_templates; --"})) == []
    assert len(texts(stored.get("/templates", params={"q": "DROP TABLE"}))) == 1
    assert len(texts(stored.get("/templates"))) == len(LINES)                      # nothing dropped


@pytest.mark.parametrize("params", [{"q": "x" * 501}, {"k": 0}, {"limit": 101}, {"level": "loud"},
                                    {"q": "a", "query": "b"}, {"since": "yesterday-ish"}])
def test_bad_parameters_are_4xx_with_a_reason(stored, params):
    response = stored.get("/templates", params=params)
    assert response.status_code in (400, 422) and response.json()["error"]["message"]


def test_terms():
    assert text_terms('disk "no space left"  full') == ["disk", "no space left", "full"]
    assert text_terms("") == [] and text_terms('""') == ['""']
