"""How /ui is served (graphs/ui_http.py): the built index for every page path, assets with
their content types and nothing outside them, open without a token (the shell holds no data)
while the API stays closed, and a 503 that says how to build when ui/dist is missing."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import server
from graphs import ui_http
from graphs.ui_http import DIST
from tests.conftest import make_settings


@pytest.fixture
def app_client(db_urls):
    app = server.create_app(make_settings(db_urls, server=server.ServerSettings(api_tokens="ui-http-token")))
    with TestClient(app) as c:
        yield c
    app.state.graph.drop()


def test_pages_assets_and_auth(app_client):
    assert (DIST / "index.html").is_file(), "run `make ui` first"
    index = (DIST / "index.html").read_text()
    for path in ("/ui", "/ui/", "/ui/incidents/7", "/ui/logs"):
        page = app_client.get(path)
        assert page.status_code == 200 and page.text == index, path          # no token needed
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
    script = app_client.get("/ui/assets/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert app_client.get("/ui/assets/app.css").headers["content-type"].startswith("text/css")
    assert app_client.get("/ui/assets/nothing.js").status_code == 404
    assert app_client.get("/ui/assets/..%2F..%2Fserver.py").status_code == 404
    assert app_client.get("/ui/assets/%2E%2E/index.html").status_code == 404
    assert app_client.get("/stats/services").status_code == 401                # the data is not open
    assert app_client.get("/stats/services", headers={"Authorization": "Bearer ui-http-token"}).status_code == 200
    assert "/ui" not in str(app_client.get("/openapi.json", headers={"Authorization": "Bearer ui-http-token"}).json()
                            ["paths"].keys())



def test_a_missing_build_says_how_to_build_it(tmp_path, monkeypatch):
    """No app needed: the router's answers themselves."""
    monkeypatch.setattr(ui_http, "DIST", tmp_path / "dist")
    page = ui_http._index()
    assert page.status_code == 503 and b"make ui" in page.body
