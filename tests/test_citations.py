"""Citations are checked by kind and value against the ids the tools returned.

Issue 14 (bug): `check_citations` counted an id as verified when its digits occurred anywhere
in the tool output, so a port (`[template:3306]`), a year (`[event:2026]`), a count or a
minute of a timestamp all passed. Cause: a regex over the output's text. Fix: the ids are
read from the structure of the tools' data (agents/citations.py), kind by kind.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from agents.citations import Evidence, check_citations, cited_ids
from agents.tool_calls import ToolCalls
from ingest.embedders import HashingEmbedder
from ingest.embedding import EmbeddingWorker
from ingest.pipeline import Ingestor
from tools.catalog import ToolContext
from tools.lc import build

NOW = datetime(2026, 1, 20, 10, 30)


def gathered(db) -> tuple[ToolCalls, str]:
    """Real tool calls on real rows: 5 lines naming port 3306 at 10:17, 2026 (event ids 1-5)."""
    Ingestor(db).ingest([{"timestamp": (NOW - timedelta(minutes=13, seconds=i)).isoformat() + "Z", "host": "db-1",
                          "service": "mariadb", "level": "error",
                          "message": f"Connection to 10.0.0.18:3306 refused after {30 + i}s"} for i in range(5)])
    worker = EmbeddingWorker(db, HashingEmbedder(64))
    worker.backfill()
    runner = ToolCalls(build(ToolContext(db, None, worker.embedder, worker.table, lambda: NOW), lambda t: t))
    output = runner.run("query_logs", {"service": "mariadb", "level": "error", "minutes": 30})
    runner.run("get_service_overview", {"service": "mariadb", "minutes": 30})
    return runner, output


def test_numbers_that_only_occur_in_the_text_are_unverified(db):
    runner, output = gathered(db)
    data = json.loads(output)["data"]
    said = " ".join(runner.outputs)
    assert all(n in said for n in ("3306", "2026", "10:17", '"count": 5'))   # all present in what the tools said
    template_id, event_id = data[0]["template_id"], data[0]["event_id"]
    answer = (f"mariadb refuses connections [template:{template_id}], e.g. [event:{event_id}]; "
              "port [template:3306], year [event:2026], minute [event:17], count [template:5].")
    text, unverified = check_citations(answer, runner.evidence)
    assert unverified == ["template:3306", "event:2026", "event:17", "template:5"]
    assert f"[template:{template_id}]" in text and f"[event:{event_id}]" in text
    assert "[template:3306 (unverified)]" in text


def test_a_real_id_of_the_wrong_kind_is_unverified(db):
    runner, output = gathered(db)
    row = json.loads(output)["data"][0]
    text, unverified = check_citations(f"[event:{row['template_id']}] and [template:{row['event_id']}]",
                                       runner.evidence)
    assert unverified == [f"event:{row['template_id']}", f"template:{row['event_id']}"]
    assert cited_ids(text) == []                       # both marked; neither counts as a citation


def test_an_id_is_verified_by_the_whole_number():
    """Earlier bug: [template:12] passed when a tool had returned template 123."""
    evidence = Evidence().add_data([{"template_id": 123}])
    text, unverified = check_citations("see [template:12] and [template:123]", evidence)
    assert unverified == ["template:12"] and "[template:123]" in text and "[template:12 (unverified)]" in text


def test_incidents_and_runbooks_are_ids_only_where_a_tool_says_so():
    incident = {"status": "ok", "data": {"id": 7, "title": "disk full on db-1 (1 of 3)", "report": {
        "id": 99, "evidence_template_ids": [41], "example_event_ids": {"41": [5001]}}}}
    evidence = Evidence().add_output(json.dumps(incident), "incident")
    assert evidence.ids == {"incident:7", "template:41", "event:5001"}      # the report's own id is not an incident
    runbooks = Evidence().add_output(json.dumps({"status": "ok", "data": [{"id": "disk-full", "title": "x"}]}),
                                     "runbook")
    assert "runbook:disk-full" in runbooks and "incident:disk-full" not in runbooks
    assert Evidence().add_output(json.dumps(incident)).ids == {"template:41", "event:5001"}   # no id_kind: no bare id
