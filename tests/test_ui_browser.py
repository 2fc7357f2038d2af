"""The web UI (issue 18) in a real browser: Debian's headless Chromium driven by Selenium
through /usr/bin/chromedriver, against a real `devmesh serve` (tokens on) on a fresh
MariaDB database and FalkorDB graph, with the built bundle from ui/dist (`make ui`).

One server and one browser for the module: a disk-full cascade is ingested (shifted to end
now), an incident over it is investigated by the server's own worker, then each page is
checked on what the API says. Screenshots go to a temp dir (DEVMESH_UI_SHOTS to keep them).
Waits are DOM conditions (WebDriverWait), never sleeps."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from db import graph as cypher
from db import graph_k8s
from db.graph import Graph
from db.settings import GraphSettings
from evals.browser import chromium
from evals.live import LiveServer, wait_until
from evals.scenarios import CASCADE_INVENTORY, CASCADE_T0, cascade
from graphs.ui_http import DIST
from ingest.inventory import parse
from tests.conftest import migrated_database

TOKEN = "ui-test-token"
XSS = "<img src=x onerror=alert(1)>"


def shifted(records: list[dict], delta: timedelta) -> list[dict]:
    out = []
    for r in records:
        ts = datetime.fromisoformat(r["timestamp"].rstrip("Z")) + delta
        out.append({**r, "timestamp": ts.isoformat() + "Z"})
    return out


@pytest.fixture(scope="module")
def site(base_urls, services, tmp_path_factory):
    """(server, http client, incident id, the cascade's start) with the data in place."""
    assert (DIST / "index.html").is_file(), f"the UI is not built ({DIST}): run `make ui`"
    tmp = tmp_path_factory.mktemp("ui")
    inventory = tmp / "inventory.yaml"
    inventory.write_text(CASCADE_INVENTORY)
    with migrated_database(base_urls[0]) as name:
        server = LiveServer(str(base_urls[0].with_database(name)), tmp / "server.log", {
            "DEVMESH_API_TOKENS": TOKEN, "DEVMESH_INVENTORY": str(inventory)}).start()
        http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        try:
            now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
            t0 = now - timedelta(minutes=20)
            logs = shifted(cascade(), t0 - CASCADE_T0)
            logs.append({"timestamp": (now - timedelta(minutes=1)).isoformat() + "Z", "host": "app-host",
                         "service": "api", "level": "error", "message": f"bad request body {XSS}"})
            assert http.post("/ingest/logs", json={"logs": logs}).json()["rejected"] == []
            created = http.post("/incidents", json={"start": (t0 - timedelta(minutes=5)).isoformat() + "Z",
                                                    "end": (t0 + timedelta(minutes=10)).isoformat() + "Z",
                                                    "title": "checkout is slow"})
            incident_id = created.json()["id"]
            wait_until(lambda: http.get(f"/incidents/{incident_id}").json()["status"] == "reported", 60, "the report")
            yield server, http, incident_id
        finally:
            http.close()
            server.stop()
            graph = Graph(GraphSettings().resolved_url(services), server.env["DEVMESH_GRAPH_NAME"])
            graph.drop()
            graph.close()


@pytest.fixture(scope="module")
def shots():
    keep = os.environ.get("DEVMESH_UI_SHOTS")
    path = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="devmesh-ui-shots-"))
    path.mkdir(parents=True, exist_ok=True)
    yield path
    if not keep:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def wait(driver, condition, timeout: float = 20):
    """Until `condition` holds; an element a page re-rendered meanwhile is looked up again."""
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def css(selector: str):
    return EC.presence_of_element_located((By.CSS_SELECTOR, selector))


def no_dialog(driver) -> None:
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"a dialog opened: {text!r}")


def signed_in(driver, server) -> None:
    """Open /ui; when the token form shows (tokens are on), type the token into it."""
    driver.get(f"{server.url}/ui")
    wait(driver, lambda d: d.find_elements(By.ID, "token-input") or d.find_elements(By.CSS_SELECTOR, "#services-table"))
    if driver.find_elements(By.ID, "token-input"):
        driver.find_element(By.ID, "token-input").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#token-form button").click()


def test_overview_asks_for_the_token_then_lists_the_inventory_and_the_open_incident(site, browser, shots):
    server, http, incident_id = site
    browser.get(f"{server.url}/ui")
    form = wait(browser, css("#token-form"))                     # tokens on: the page asks, holds none itself
    assert TOKEN not in browser.page_source
    form.find_element(By.ID, "token-input").send_keys(TOKEN)
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait(browser, css("#services-table .service-row"))
    shown = [r.get_attribute("data-service") for r in browser.find_elements(By.CSS_SELECTOR, "#services-table .service-row")]
    assert set(parse(CASCADE_INVENTORY).services) <= set(shown)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#services-table canvas")) >= len(shown)     # a sparkline each
    row = wait(browser, css(f"#incidents-table .incident-row[data-id='{incident_id}']"))
    first = http.get(f"/incidents/{incident_id}").json()["report"]["candidates"][0]
    assert row.find_element(By.CSS_SELECTOR, ".root-cause .strong").text.startswith(f"1. {first['service']}")
    mariadb = browser.find_element(By.CSS_SELECTOR, "#services-table .service-row[data-service='mariadb']")
    assert mariadb.find_element(By.CSS_SELECTOR, ".badge").text == "incident"
    wait(browser, lambda d: "lines/min" in d.find_element(By.CSS_SELECTOR, "#state .stat[data-name='ingest']").text)
    browser.save_screenshot(str(shots / "overview.png"))


def test_incident_page_ranks_the_root_cause_and_a_citation_opens_its_lines(site, browser, shots):
    server, http, incident_id = site
    signed_in(browser, server)
    report = http.get(f"/incidents/{incident_id}").json()["report"]
    browser.get(f"{server.url}/ui/incidents?state=open")               # the list, filtered as the API is
    row = wait(browser, css(f"#incidents-table .incident-row[data-id='{incident_id}']"))
    assert browser.find_element(By.CSS_SELECTOR, "#incident-filters select[name='state']").get_attribute("value") == "open"
    browser.save_screenshot(str(shots / "incidents.png"))
    row.find_element(By.CSS_SELECTOR, "a").click()
    wait(browser, EC.url_contains(f"/ui/incidents/{incident_id}"))
    wait(browser, css("#candidates .candidate"))
    ranked = [r.get_attribute("data-service") for r in browser.find_elements(By.CSS_SELECTOR, "#candidates .candidate")]
    assert ranked == [c["service"] for c in report["candidates"]] and ranked[0] == "mariadb"
    assert browser.find_element(By.CSS_SELECTOR, "#root-cause .big").text.startswith(report["root_cause_service"])
    parts = browser.find_elements(By.CSS_SELECTOR, "#candidates .candidate:first-child .part-name")
    assert [p.text for p in parts] == list(report["candidates"][0]["parts"])
    assert "<NUM>" in browser.find_element(By.ID, "report").text          # a template's placeholders are text
    wait(browser, css("#incident-chart canvas"))
    wait(browser, css("#blast-graph canvas"))
    browser.save_screenshot(str(shots / "incident.png"))
    browser.execute_script("document.getElementById('incident-chart').scrollIntoView()")
    browser.save_screenshot(str(shots / "incident-chart.png"))

    cite = browser.find_element(By.CSS_SELECTOR, "#candidates .candidate:first-child a.cite[data-kind='template']")
    template_id = cite.get_attribute("data-id")
    cite.click()
    wait(browser, EC.url_contains(f"/ui/logs?template_id={template_id}"))
    wait(browser, css("#log-table .log-row"))
    shown = {int(r.get_attribute("data-id")) for r in browser.find_elements(By.CSS_SELECTOR, "#log-table .log-row")}
    expected = http.get("/query/logs", params={"template_id": template_id, "since": report["window"]["start"]
                                               if isinstance(report.get("window"), dict) else None,
                                               "limit": 1000}).json()["events"]
    assert shown and shown <= {e["id"] for e in expected}
    assert all(e["template_id"] == int(template_id) for e in expected if e["id"] in shown)

    browser.back()
    wait(browser, css("#ack"))
    wait(browser, lambda d: d.find_element(By.ID, "ack").is_enabled())
    browser.find_element(By.ID, "ack").click()
    wait(browser, lambda d: "ack: done" in d.find_element(By.ID, "notice").text)
    assert http.get(f"/incidents/{incident_id}").json()["state"] == "acknowledged"
    assert not browser.find_element(By.ID, "ack").is_enabled()                    # the page shows the new state
    assert "acknowledged" in browser.find_element(By.CSS_SELECTOR, ".page-head").text
    browser.find_element(By.ID, "verdict").send_keys("reject")
    browser.find_element(By.CSS_SELECTOR, "#feedback-form button[type='submit']").click()
    wait(browser, lambda d: "names the real root cause" in d.find_element(By.ID, "notice").text)
    browser.find_element(By.CSS_SELECTOR, "#feedback-form input[name='root_cause_service']").send_keys("api")
    browser.find_element(By.CSS_SELECTOR, "#feedback-form button[type='submit']").click()
    wait(browser, lambda d: "recorded" in d.find_element(By.ID, "notice").text)


def test_log_explorer_filters_by_service_and_level_with_state_in_the_url(site, browser, shots):
    server, http, _ = site
    signed_in(browser, server)
    browser.get(f"{server.url}/ui/logs")
    wait(browser, css("#log-table .log-row"))
    browser.find_element(By.ID, "f-service").send_keys("api")
    browser.find_element(By.CSS_SELECTOR, "#f-levels input[value='error']").click()
    browser.find_element(By.ID, "apply").click()
    wait(browser, EC.url_contains("level=error"))
    assert "service=api" in browser.current_url
    wait(browser, css("#log-table .log-row"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#log-table .log-row")
    assert {(r.get_attribute("data-service"), r.get_attribute("data-level")) for r in rows} == {("api", "error")}
    expected = http.get("/query/logs", params={"service": "api", "level": "error", "limit": 100}).json()["events"]
    assert [int(r.get_attribute("data-id")) for r in rows] == [e["id"] for e in expected]
    wait(browser, css("#histogram canvas"))
    assert "lines from" in browser.find_element(By.ID, "histogram-note").text
    page = http.get("/query/logs", params={"service": "api", "level": "error", "limit": 100})
    second = http.get("/query/logs", params={"service": "api", "level": "error", "limit": 100,
                                             "cursor": page.json()["next_cursor"]}).json()["events"]
    browser.find_element(By.ID, "next-page").click()                   # keyset paging, the cursor in the URL
    wait(browser, EC.url_contains("cursor="))
    wait(browser, lambda d: [int(r.get_attribute("data-id")) for r in d.find_elements(
        By.CSS_SELECTOR, "#log-table .log-row")] == [e["id"] for e in second])
    browser.back()
    wait(browser, lambda d: "cursor=" not in d.current_url)
    wait(browser, css("#log-table .log-row"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#log-table .log-row")
    rows[0].click()                                                 # its template and the lines around it
    wait(browser, css(".detail .template-text"))
    browser.save_screenshot(str(shots / "logs.png"))
    browser.refresh()                                               # the URL alone restores the page
    wait(browser, css("#log-table .log-row"))
    assert browser.find_element(By.ID, "f-service").get_attribute("value") == "api"
    assert browser.find_element(By.CSS_SELECTOR, "#f-levels input[value='error']").is_selected()


def test_chat_streams_the_route_and_an_answer(site, browser, shots):
    server, http, _ = site
    signed_in(browser, server)
    question = "errors on mariadb in the last hour"
    expected = http.post("/analyze", json={"question": question}).json()
    browser.get(f"{server.url}/ui/chat")
    box = wait(browser, css("#question"))
    box.send_keys(question)
    browser.find_element(By.ID, "ask").click()
    route = wait(browser, css(".turn .ev-route .route-name"))
    assert route.text == expected["route"]["route"]
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".turn .ev-done"))
    links = browser.find_elements(By.CSS_SELECTOR, ".turn .answer .markdown a.cite")
    cited = set(re.findall(r"\[(?:template|event|incident):[0-9]+\]", expected["answer"]["markdown"]))
    assert cited and {a.text for a in links} == cited                  # the same answer, its citations links
    wait(browser, EC.url_contains("thread_id="))
    browser.save_screenshot(str(shots / "chat.png"))
    browser.refresh()                                               # the thread is kept: its turns come back
    wait(browser, lambda d: [q.text for q in d.find_elements(By.CSS_SELECTOR, ".turn .question")] == [question])

    hostile = f"errors on api in the last hour {XSS}"                 # the question and the answer hold HTML
    assert "<img" in http.post("/analyze", json={"question": hostile}).json()["answer"]["markdown"]
    wait(browser, css("#question")).send_keys(hostile)
    browser.find_element(By.ID, "ask").click()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".turn")) == 2
         and d.find_elements(By.CSS_SELECTOR, ".turn:last-child .ev-done"))
    last = browser.find_elements(By.CSS_SELECTOR, ".turn")[-1]
    assert last.find_element(By.CSS_SELECTOR, ".question").text == hostile
    assert "<img src=" in last.find_element(By.CSS_SELECTOR, ".answer").text
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    no_dialog(browser)
    browser.save_screenshot(str(shots / "chat-html.png"))


def test_a_log_line_with_html_shows_as_text_and_opens_no_dialog(site, browser, shots):
    server, http, _ = site
    signed_in(browser, server)
    browser.get(f"{server.url}/ui/logs?q=onerror")
    cell = wait(browser, css("#log-table .log-row .msg"))
    assert cell.text == f"bad request body {XSS}"
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    no_dialog(browser)
    event_id = browser.find_element(By.CSS_SELECTOR, "#log-table .log-row").get_attribute("data-id")
    browser.get(f"{server.url}/ui/events/{event_id}")
    line = wait(browser, css("#event-line .msg"))
    assert line.text == f"bad request body {XSS}"
    template = browser.find_element(By.CSS_SELECTOR, "code.template-text").get_attribute("textContent")
    assert "<img" in template
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    no_dialog(browser)
    browser.save_screenshot(str(shots / "xss.png"))


def test_template_and_topology_pages(site, browser, shots):
    server, http, _ = site
    signed_in(browser, server)
    line = http.get("/query/logs", params={"q": "onerror", "limit": 1}).json()["events"][0]
    template = http.get(f"/templates/{line['template_id']}").json()
    browser.get(f"{server.url}/ui/templates/{template['id']}")
    shown = wait(browser, css("#template-text"))
    assert shown.text == template["template"] and not browser.find_elements(By.CSS_SELECTOR, "main img")
    wait(browser, css("#template-chart canvas"))
    no_dialog(browser)
    found = lambda: [t["id"] for t in http.get("/search/templates", params={"q": "bad request body", "k": 25}).json()[
        "templates"]]
    wait_until(lambda: template["id"] in found(), 30, "the template's vector")
    browser.get(f"{server.url}/ui/templates?q=bad+request+body")          # semantic search, the query in the URL
    wait(browser, css(".template-row"))
    links = browser.find_elements(By.CSS_SELECTOR, ".template-row a")
    assert [int(a.get_attribute("href").rsplit("/", 1)[1]) for a in links] == found()
    assert template["template"] in [a.text for a in links] and not browser.find_elements(By.CSS_SELECTOR, "main img")
    browser.get(f"{server.url}/ui/graph")
    wait(browser, css("#topology canvas"))
    browser.save_screenshot(str(shots / "graph.png"))


def test_clicking_a_graph_node_shows_its_recent_errors_and_impact(site, browser, shots):
    server, http, _ = site
    signed_in(browser, server)
    browser.get(f"{server.url}/ui/graph")
    box = wait(browser, css("#topology[data-laid-out] canvas")) and browser.find_element(By.ID, "topology")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    x, y = browser.execute_script(            # where cytoscape drew the node (its instance on the container)
        "const p = arguments[0]._cyreg.cy.getElementById('Service:mariadb').renderedPosition(); return [p.x, p.y];", box)
    ActionChains(browser).move_to_element_with_offset(box, x - box.size["width"] / 2, y - box.size["height"] / 2).click().perform()
    wait(browser, css("#node-panel #node-impact"))
    assert browser.find_element(By.ID, "node-title").get_attribute("data-name") == "mariadb"
    errors = http.get("/query/logs", params={"service": "mariadb", "level": "error,critical,alert,emergency",
                                             "limit": 10}).json()["events"]
    shown = [int(e.get_attribute("data-id")) for e in browser.find_elements(By.CSS_SELECTOR, "#node-errors .ctx-line")]
    assert errors and shown == [e["id"] for e in errors]
    impact = http.get("/graph/impact", params={"service": "mariadb"}).json()
    downstream = [li.get_attribute("data-service") for li in browser.find_elements(By.CSS_SELECTOR, "#impact-downstream li")]
    assert impact["downstream"] and downstream == [d["service"] for d in impact["downstream"]]
    cohosted = [li.get_attribute("data-service") for li in browser.find_elements(By.CSS_SELECTOR, "#impact-cohosted li")]
    assert cohosted == [c["service"] for c in impact["co_hosted"]]
    browser.save_screenshot(str(shots / "graph-node.png"))


def test_snooze_reinvestigate_and_resolve_from_the_incident_page(site, browser, shots):
    server, http, incident_id = site
    signed_in(browser, server)
    before = http.get(f"/incidents/{incident_id}").json()
    notice = lambda text: lambda d: text in d.find_element(By.ID, "notice").text
    browser.get(f"{server.url}/ui/incidents/{incident_id}")
    wait(browser, css("#report-meta"))
    Select(browser.find_element(By.ID, "snooze-minutes")).select_by_value("240")
    browser.find_element(By.ID, "snooze").click()
    wait(browser, notice("snooze: done"))
    snoozed = http.get(f"/incidents/{incident_id}").json()
    left = datetime.fromisoformat(snoozed["snoozed_until"].rstrip("Z")) - datetime.now(timezone.utc).replace(tzinfo=None)
    assert snoozed["state"] == "snoozed" and timedelta(minutes=235) < left <= timedelta(minutes=240)
    shown = browser.find_element(By.ID, "lifecycle")
    assert shown.get_attribute("data-state") == "snoozed" and snoozed["snoozed_until"][:19].replace("T", " ") in shown.text

    typed = "half-written feedback, kept while the page redraws"
    browser.find_element(By.CSS_SELECTOR, "#feedback-form textarea[name=comment]").send_keys(typed)
    browser.find_element(By.ID, "reinvestigate").click()             # a new report replaces the old one on the page
    wait(browser, notice("investigate: done"))
    wait(browser, lambda d: d.find_element(By.ID, "report-meta").get_attribute("data-report-id") != str(before["report"]["id"]), 60)
    again = http.get(f"/incidents/{incident_id}").json()
    assert again["status"] == "reported" and again["report"]["id"] > before["report"]["id"]
    assert browser.find_element(By.ID, "report-meta").get_attribute("data-report-id") == str(again["report"]["id"])
    assert not browser.find_elements(By.ID, "reinvestigating")
    assert browser.find_element(By.CSS_SELECTOR, "#feedback-form textarea[name=comment]").get_attribute("value") == typed
    ranked = [r.get_attribute("data-service") for r in browser.find_elements(By.CSS_SELECTOR, "#candidates .candidate")]
    assert ranked == [c["service"] for c in again["report"]["candidates"]]

    browser.find_element(By.ID, "resolve").click()
    wait(browser, notice("resolve: done"))
    resolved = http.get(f"/incidents/{incident_id}").json()
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "person"
    assert browser.find_element(By.ID, "lifecycle").get_attribute("data-state") == "resolved"
    assert not any(browser.find_element(By.ID, b).is_enabled() for b in ("ack", "snooze", "resolve"))
    browser.save_screenshot(str(shots / "incident-resolved.png"))


def test_templates_by_text_from_the_form_with_the_words_in_the_url(site, browser, shots):
    server, http, _ = site
    signed_in(browser, server)
    browser.get(f"{server.url}/ui/templates?mode=text")                  # no words: the busiest templates
    wait(browser, css("#template-results .template-row"))
    busiest = http.get("/templates", params={"k": 25}).json()["templates"]
    rows = lambda d: [int(r.get_attribute("data-id")) for r in d.find_elements(By.CSS_SELECTOR, "#template-results .template-row")]
    assert rows(browser) == [t["id"] for t in busiest]
    box = browser.find_element(By.ID, "t-q")
    box.clear()
    box.send_keys("BAD request")                                        # every word, any case
    browser.find_element(By.CSS_SELECTOR, "#template-search button[type='submit']").click()
    wait(browser, EC.url_contains("q=BAD+request"))
    assert "mode=text" in browser.current_url
    expected = http.get("/templates", params={"q": "BAD request", "k": 25}).json()["templates"]
    assert expected and all("bad request" in t["template"].lower() for t in expected)
    wait(browser, lambda d: rows(d) == [t["id"] for t in expected])
    assert any("<img src=" in a.text for a in browser.find_elements(By.CSS_SELECTOR, ".template-row a"))   # HTML as text
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    no_dialog(browser)
    browser.save_screenshot(str(shots / "templates-text.png"))


def test_an_inferred_edge_is_dashed_and_a_click_shows_its_confidence_reason_and_evidence(site, browser, services, shots):
    server, http, _ = site
    line = http.get("/query/logs", params={"service": "mariadb", "level": "error", "limit": 1}).json()["events"][0]
    graph = Graph(GraphSettings().resolved_url(services), server.env["DEVMESH_GRAPH_NAME"])
    try:                                        # what the enrichment job writes (off in the live server)
        cypher.replace_inferred(graph, [{"source": "reports", "target": "mariadb", "confidence": 0.73,
                                         "evidence": [line["template_id"]], "last_seen": line["ts"],
                                         "reason": f"reports logged mariadb errors {XSS}"}])
        signed_in(browser, server)
        browser.get(f"{server.url}/ui/graph")
        box = wait(browser, css("#topology[data-laid-out] canvas")) and browser.find_element(By.ID, "topology")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
        edge = "Service:reports->DEPENDS_ON->Service:mariadb"
        x, y, style = browser.execute_script(
            "const e = arguments[0]._cyreg.cy.getElementById(arguments[1]); const p = e.renderedMidpoint();"
            " return [p.x, p.y, e.style('line-style')];", box, edge)
        assert style == "dashed"                                            # told apart from owned edges
        ActionChains(browser).move_to_element_with_offset(box, x - box.size["width"] / 2,
                                                          y - box.size["height"] / 2).click().perform()
        wait(browser, css("#edge-origin[data-inferred]"))
        title = browser.find_element(By.ID, "edge-title")
        assert (title.get_attribute("data-source"), title.get_attribute("data-target")) == ("reports", "mariadb")
        assert "confidence 0.73" in browser.find_element(By.ID, "edge-origin").text
        assert browser.find_element(By.ID, "edge-reason").text == f"reports logged mariadb errors {XSS}"
        template = http.get(f"/templates/{line['template_id']}").json()["template"]
        wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#edge-evidence li code").text == template)
        assert not browser.find_elements(By.CSS_SELECTOR, "main img")
        no_dialog(browser)
        browser.save_screenshot(str(shots / "graph-edge.png"))
    finally:
        cypher.replace_inferred(graph, [])
        graph.close()


def test_a_cluster_edge_is_dotted_and_a_click_says_it_came_from_kubernetes(site, browser, services, shots):
    server, http, _ = site
    graph = Graph(GraphSettings().resolved_url(services), server.env["DEVMESH_GRAPH_NAME"])
    try:                                        # what the Kubernetes topology writes (off in the live server)
        reason = f"env DB_HOST of Deployment shop/gateway {XSS}"
        graph_k8s.sync_k8s(graph, [], [], [{"source": "gateway", "target": "mariadb", "type": "DEPENDS_ON",
                                            "confidence": 0.6, "reason": reason}])
        signed_in(browser, server)
        browser.get(f"{server.url}/ui/graph")
        box = wait(browser, css("#topology[data-laid-out] canvas")) and browser.find_element(By.ID, "topology")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
        x, y, style, owned = browser.execute_script(
            "const cy = arguments[0]._cyreg.cy; const e = cy.getElementById(arguments[1]);"
            " const p = e.renderedMidpoint(); const o = cy.getElementById(arguments[2]);"
            " return [p.x, p.y, e.style('line-style'), o.style('line-style')];",
            box, "Service:gateway->DEPENDS_ON->Service:mariadb", "Service:gateway->DEPENDS_ON->Service:api")
        assert (style, owned) == ("dotted", "solid")                      # told apart from the file's edges
        ActionChains(browser).move_to_element_with_offset(box, x - box.size["width"] / 2,
                                                          y - box.size["height"] / 2).click().perform()
        wait(browser, css("#edge-origin[data-cluster]"))
        text = browser.find_element(By.ID, "edge-origin").text
        assert "from the Kubernetes cluster" in text and "candidate" in text and "confidence 0.6" in text
        assert browser.find_element(By.ID, "edge-reason").text == reason
        assert not browser.find_elements(By.CSS_SELECTOR, "main img")
        no_dialog(browser)
        browser.save_screenshot(str(shots / "graph-cluster-edge.png"))
    finally:
        graph_k8s.sync_k8s(graph, [], [], [])                             # the cluster's part gone again
        graph.close()
