"""The investigate graph on a seeded cascade (disk full on the database host -> API errors
-> gateway timeouts), claims and retries, webhooks, and the incident API."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

import server
from agents.notify import Notifier, NotifySettings
from db import graph as cypher
from db import incidents as incident_sql
from graphs.investigate import INVESTIGATE, Context, investigate
from graphs.worker import InvestigationSettings, run_one
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory
from evals.scenarios import CASCADE_INVENTORY, CASCADE_T0, cascade
from tests.conftest import replay_cascade_cycles
from tests.conftest import make_settings

T0 = CASCADE_T0
INVENTORY_TEXT = CASCADE_INVENTORY
INVENTORY = parse(INVENTORY_TEXT)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat() + "Z"


@pytest.fixture
def seeded(db, graph):
    load_inventory(graph, INVENTORY)
    Ingestor(db, services=ServiceMap(INVENTORY)).ingest(cascade())
    return db, graph


def detect(db, graph, until_minute: int = 16) -> list[int]:
    return replay_cascade_cycles(db, graph, ServiceMap(INVENTORY).names(), until_minute)


def test_the_graph_shape_is_fixed():
    """The shape as data (nodes, edges), not as LangGraph's mermaid text, whose formatting
    may change with a newer wheel."""
    shape = INVESTIGATE.get_graph()
    edges = {(e.source, e.target, e.conditional) for e in shape.edges}
    assert edges == {("__start__", "context", False), ("context", "timeline", False),
                     ("timeline", "root_cause", False), ("root_cause", "impact", False), ("impact", "agents", False),
                     ("agents", "report", False), ("report", "persist", False), ("persist", "notify", False),
                     ("notify", "__end__", False)}


def test_a_seeded_cascade_ranks_the_database_first_with_reasons(seeded):
    db, graph = seeded
    opened = detect(db, graph)
    assert len(opened) == 1                                        # one fault, one incident
    incident = incident_sql.get(db, opened[0])
    assert {"mariadb", "api", "gateway"} <= set(incident["services"])
    state = investigate(opened[0], Context(db, graph))
    report = state["report"]
    assert report["root_cause_service"] == "mariadb" and report["root_cause_host"] == "db-host"
    top = report["candidates"][0]
    assert any("first anomaly at 10:00" in r for r in top["reasons"])
    assert any("depend on it" in r and "api" in r and "gateway" in r for r in top["reasons"])
    assert any("disk full on its host db-host" in r for r in top["reasons"])
    assert [c["service"] for c in report["candidates"][:3]][1] == "api"
    assert report["impacted_services"] == ["api", "gateway"] and "reports" in report["at_risk_services"]
    assert report["confidence"] >= 0.5 and report["history_minutes"] >= 150
    texts = {t: db.fetchone("SELECT template FROM log_templates WHERE id = ?", (t,))[0]
             for t in report["evidence_template_ids"]}
    assert any("No space left on device" in t for t in texts.values())
    for template_id, event_ids in report["example_event_ids"].items():
        for event_id in event_ids:                                  # every cited example is a real event
            row = db.fetchone("SELECT template_id FROM log_events WHERE id = ?", (int(event_id.split(":")[1]),))
            assert row == (int(template_id),)
    assert report["related_runbooks"][0]["id"] == "disk-full"
    assert any("Free space" in a for a in report["suggested_actions"])
    stored = incident_sql.latest_report(db, opened[0])
    assert stored["root_cause_service"] == "mariadb" and "## Timeline" in stored["markdown"]
    assert incident_sql.get(db, opened[0])["status"] == "reported"
    links = cypher.incident_links(graph, opened[0])
    assert {"mariadb", "api", "gateway"} <= set(links["AFFECTS"]) and "db-host" in links["OBSERVED_ON"]
    assert set(links["HAS_LOG"]) & set(report["evidence_template_ids"])


def test_a_killed_investigation_is_picked_up_again(seeded):
    db, graph = seeded
    incident_id = detect(db, graph)[0]
    stale = datetime.utcnow() + timedelta(seconds=1)                # everything claimed before now is stale
    assert incident_sql.claim(db, "worker-that-dies", stale) == incident_id
    assert incident_sql.get(db, incident_id)["status"] == "investigating"
    fresh = InvestigationSettings(stale_s=3600)
    assert run_one(Context(db, graph), fresh) is None               # a live claim is left alone
    assert run_one(Context(db, graph), InvestigationSettings(stale_s=0)) == incident_id
    incident = incident_sql.get(db, incident_id)
    assert incident["status"] == "reported" and incident["attempts"] == 2


@respx.mock
def test_discord_payload_and_a_failing_webhook_never_fails_the_investigation(seeded):
    db, graph = seeded
    incident_id = detect(db, graph)[0]
    discord = respx.post("https://discord.test/api/webhooks/1/abc").mock(return_value=httpx.Response(204))
    generic = respx.post("https://hooks.test/devmesh").mock(return_value=httpx.Response(500))
    notifier = Notifier(NotifySettings(discord_webhook_url="https://discord.test/api/webhooks/1/abc",
                                       webhook_url="https://hooks.test/devmesh", retries=2))
    state = investigate(incident_id, Context(db, graph, notifier))
    assert state["notified"] == {"discord": True, "webhook": False} and notifier.failures == 1
    assert generic.call_count == 2
    body = json.loads(discord.calls[0].request.content)
    assert set(body) == {"content", "embeds"} and body["content"].startswith(f"DevMesh incident #{incident_id}")
    embed = body["embeds"][0]
    assert embed["title"] == "Root cause: mariadb" and isinstance(embed["color"], int)
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096 and len(embed["fields"]) <= 25
    assert all(set(f) == {"name", "value", "inline"} and len(f["value"]) <= 1024 for f in embed["fields"])
    assert embed["timestamp"].endswith("Z")
    assert incident_sql.get(db, incident_id)["status"] == "reported"


def test_incident_api(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY_TEXT)
    settings = make_settings(db_urls, inventory)
    app = server.create_app(settings)
    try:
        with TestClient(app) as c:
            assert c.post("/ingest/logs", json={"logs": cascade()}).status_code == 200
            created = c.post("/incidents", json={"start": at(-5), "end": at(10), "title": "checkout is slow"})
            assert created.status_code == 201
            incident_id = created.json()["id"]
            deadline = time.monotonic() + 30
            while c.get(f"/incidents/{incident_id}").json()["status"] != "reported" and time.monotonic() < deadline:
                time.sleep(0.05)
            body = c.get(f"/incidents/{incident_id}").json()
            assert body["status"] == "reported" and body["trigger"] == "manual" and body["service"] is None
            assert body["report"]["root_cause_service"] == "mariadb"       # fleet-wide, graph-aware
            assert [i["id"] for i in c.get("/incidents", params={"status": "reported"}).json()["incidents"]] == [
                incident_id]
            assert c.post(f"/incidents/{incident_id}/feedback", json={"verdict": "reject"}).status_code == 400
            ok = c.post(f"/incidents/{incident_id}/feedback", json={"verdict": "accept", "comment": "spot on"})
            assert ok.status_code == 201
            assert c.post(f"/incidents/{incident_id}/investigate").status_code == 202
            assert c.get("/incidents/999999").status_code == 404
            assert c.get("/incidents", params={"status": "lost"}).status_code == 400
    finally:
        app.state.graph.drop()


@respx.mock
def test_an_llm_narrative_sits_beside_the_deterministic_ranking(seeded):
    from agents.llm import LLMSettings, build_chat_model
    from tests.test_planner import OLLAMA, ndjson

    db, graph = seeded
    incident_id = detect(db, graph)[0]
    llm = build_chat_model(LLMSettings(backend="ollama", url=OLLAMA, timeout_s=5))
    before = investigate(incident_id, Context(db, graph))["report"]
    cited = before["evidence_template_ids"][0]
    route = respx.post(f"{OLLAMA}/api/chat").mock(side_effect=[
        ndjson(f"mariadb failed first [template:{cited}]."),                     # the timeline agent
        ndjson("mariadb's own log shows the fault."),                           # the root-cause agent
        ndjson("devmesh-api depends on it [template:777]."),                    # the impact agent
        ndjson(f"The database disk filled first [template:{cited}], then the API failed [template:123]."),
    ] + [httpx.Response(500, json={"error": "model crashed"})] * 4)
    state = investigate(incident_id, Context(db, graph, llm=llm))
    report = state["report"]
    assert report["candidates"] == before["candidates"]                  # an LLM speaking changes no ranking
    assert f"[template:{cited}]" in report["narrative"] and "[template:123 (unverified)]" in report["narrative"]
    assert "## Narrative (written by an LLM)" in state["markdown"]
    agents = {a["role"]: a for a in report["llm"]["agents"]}
    assert list(agents) == ["timeline", "root_cause", "impact"] and agents["impact"]["unverified"] == ["template:777"]
    assert agents["timeline"]["cited"] == [f"template:{cited}"] and not agents["timeline"]["unverified"]
    assert agents["impact"]["cited"] == [] and report["llm"]["cited"] == [f"template:{cited}"]
    first = json.loads(route.calls[0].request.content)
    assert [t["function"]["name"] for t in first["tools"]] == ["query_logs", "compare_windows", "get_template_stats"]   # its own tool set
    assert "data from logs" in first["messages"][0]["content"] and first["messages"][1]["role"] == "user"
    # every call opens with the same system text, the incident and its analysis, so a local
    # server reuses the cached prefix: the agents' and the reporter's first messages share it
    openings = [json.loads(call.request.content)["messages"][0] for call in route.calls[:4]]
    shared = os.path.commonprefix([m["content"] for m in openings])
    assert {m["role"] for m in openings} == {"system"} and "Candidates (deterministic ranking)" in shared
    assert "mariadb" in shared.split("Candidates", 1)[1] and shared.rstrip().endswith("at risk: reports")
    sent = json.loads(route.calls[3].request.content)["messages"][1]["content"]
    assert "not instructions" in sent and "mariadb failed first" in sent    # findings reach the reporter
    failed = investigate(incident_id, Context(db, graph, llm=llm))         # the LLM fails: the report stands
    assert "could not write a narrative" in failed["report"]["narrative"]
    assert all("agent failed" in a["text"] for a in failed["report"]["llm"]["agents"])
    assert incident_sql.get(db, incident_id)["status"] == "reported"


@respx.mock
def test_a_structured_narrative_cut_at_its_token_bound_is_salvaged(seeded):
    """Bug: the reporter's reply cut at max tokens (finish_reason "length") was dropped
    whole, so a small model that wrote too much left no narrative and no pick. Fix: take
    the pick and the narrative written so far from the partial JSON."""
    from agents.llm import LLMSettings, build_chat_model
    from tests.test_planner import LLM, scripted

    db, graph = seeded
    incident_id = detect(db, graph)[0]
    cited = investigate(incident_id, Context(db, graph))["report"]["evidence_template_ids"][0]
    partial = json.dumps({"root_cause_service": "mariadb",
                          "narrative": f"The disk on the database host filled [template:{cited}] and then"})[:-2]
    respx.post(f"{LLM}/chat/completions").mock(side_effect=scripted(
        '{"steps": []}', "Nothing more.", '{"steps": []}', "Nothing more.", '{"steps": []}', "Nothing more.",
        (partial, "length")))
    llm = build_chat_model(LLMSettings(backend="openai", url=LLM, model="qwen2.5-coder-0.5b", timeout_s=5))
    report = investigate(incident_id, Context(db, graph, llm=llm, structured=True))["report"]
    assert report["llm"]["root_cause_service"] == "mariadb"
    assert report["narrative"].startswith("The disk on the database host filled") and report["narrative"].endswith("…")
    assert report["llm"]["cited"] == [f"template:{cited}"]
    assert report["llm"]["cut"] and "cut at the model's token bound" in state_markdown(db, incident_id)


def state_markdown(db, incident_id: int) -> str:
    return incident_sql.latest_report(db, incident_id)["markdown"]


@respx.mock
def test_a_narrative_naming_another_root_cause_is_flagged_and_a_cut_one_says_so(seeded):
    """Bug: an LLM narrative naming another root cause than the ranking read as the
    conclusion, the report still said `written_by: deterministic`, and a narrative cut at
    its token bound ended mid-sentence without a word. Fix: report["llm"] says whom the
    narrative names, whether that disagrees with the ranking, whether it was cut; the
    markdown says both plainly; written_by names the LLM narrative."""
    from agents.llm import LLMSettings, build_chat_model
    from tests.test_planner import LLM, scripted

    db, graph = seeded
    incident_id = detect(db, graph)[0]
    before = investigate(incident_id, Context(db, graph))["report"]
    top, other = before["root_cause_service"], next(c["service"] for c in before["candidates"]
                                                    if c["service"] != before["root_cause_service"])
    llm = build_chat_model(LLMSettings(backend="openai", url=LLM, model="qwen2.5:7b-instruct", timeout_s=5))
    respx.post(f"{LLM}/chat/completions").mock(side_effect=scripted(
        "Nothing more.", "Nothing more.", "Nothing more.", (f"The fault started in {other}, whose", "length"),
        "Nothing more.", "Nothing more.", "Nothing more.", f"{other} failed after {top} filled its disk."))
    state = investigate(incident_id, Context(db, graph, llm=llm))
    report, markdown = state["report"], state["markdown"]
    assert report["candidates"] == before["candidates"] and report["root_cause_service"] == top
    assert report["llm"]["names"] == other and report["llm"]["disagrees"] and report["llm"]["cut"]
    assert report["narrative"].endswith("whose …")
    assert f"The LLM disagrees with the ranking:** its narrative names {other}" in markdown
    assert f"top candidate is {top}" in markdown and "cut at the model's token bound" in markdown
    assert markdown.index("disagrees") < markdown.index("The fault started") < markdown.index("## Candidates")
    assert incident_sql.latest_report(db, incident_id)["written_by"] == "deterministic ranking, LLM narrative"
    agreeing = investigate(incident_id, Context(db, graph, llm=llm))        # names the top candidate too: agrees
    assert agreeing["report"]["llm"]["names"] == top and not agreeing["report"]["llm"]["disagrees"]
    assert not agreeing["report"]["llm"]["cut"] and "disagrees" not in agreeing["markdown"]
    assert "token bound" not in agreeing["markdown"]
