"""Issue 24 (3), bug: `/docs` was blank offline. Cause: FastAPI's Swagger UI page loads its
JavaScript and CSS from a CDN. Fix: graphs/docs_http.py serves the pages with assets from an
installed package (fastapi-offline) under /docs-assets; every URL the pages name is ours."""
from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("page, kinds", [("/docs", {"javascript", "css"}), ("/redoc", {"javascript"})])
def test_docs_pages_name_only_local_assets_and_they_answer(client, page, kinds):
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", html)
    assert urls, html[:500]
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), "the page names a remote URL"
    seen = set()
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        kind = answer.headers["content-type"]
        for wanted in ("javascript", "css"):
            if wanted in kind:
                seen.add(wanted)
                assert len(answer.content) > 10_000, url            # the real bundle, not a stub
    assert kinds <= seen
    assert client.get("/openapi.json").json()["info"]["title"] == "DevMesh"
