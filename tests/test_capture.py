"""Issue 21: a verdict becomes a golden case. The captured case replays (evals/runner, the
production pipeline into a scratch database) to the same ranking as the live investigation;
a rejected verdict naming the true root cause writes a case that fails until the ranking
finds it; the lines are masked as the LLM path masks."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from db import incidents as incident_sql
from db.settings import GraphSettings
from evals.capture import CaptureError, capture
from evals.cases import load
from evals.runner import run_case
from evals.scenarios import cascade
from graphs.investigate import Context, investigate
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory
from tests.test_investigation import INVENTORY, INVENTORY_TEXT, T0, detect


@pytest.fixture
def seeded(db, graph):
    """The seeded cascade (disk full on db-host -> api -> gateway) in the test's database and graph."""
    load_inventory(graph, INVENTORY)
    Ingestor(db, services=ServiceMap(INVENTORY)).ingest(cascade())
    return db, graph


def _live(db, graph):
    Ingestor(db, services=ServiceMap(INVENTORY)).ingest([{
        "timestamp": (T0 - timedelta(minutes=100)).isoformat() + "Z", "host": "app-host", "service": "api",
        "level": "info", "message": "login for alice@example.com with password=hunter2", "meta": {"who": "bob@x.org"}}])
    incident_id = detect(db, graph)[0]
    end = datetime_of(incident_sql.get(db, incident_id)["window_end"])
    report = investigate(incident_id, Context(db, graph, inventory=lambda: INVENTORY, now=lambda: end))["report"]
    return incident_id, report


def datetime_of(text):
    from datetime import datetime
    return datetime.fromisoformat(text.rstrip("Z"))


def test_an_accepted_verdict_replays_to_the_live_ranking(seeded, base_urls, db_urls, services, tmp_path):
    db, graph = seeded
    incident_id, report = _live(db, graph)
    with pytest.raises(CaptureError, match="no verdict"):
        capture(db, incident_id, tmp_path, INVENTORY_TEXT)
    incident_sql.add_feedback(db, incident_id, "accept", None, None, "right")
    target = capture(db, incident_id, tmp_path, INVENTORY_TEXT, mask_patterns=(r"ibdata\d",))
    case = load(target)
    assert (case.root_service, case.root_host) == (report["root_cause_service"], report["root_cause_host"])
    assert case.trigger_at is None and set(case.detectors) >= {"catastrophic"}
    assert case.impacted == report["impacted_services"]
    raw = yaml.safe_load((target / "case.yaml").read_text())
    assert "disk" not in raw["title"].lower() and "mariadb" not in raw["title"].lower()   # names hint at nothing
    lines = [json.loads(x) for x in (target / "logs.jsonl").read_text().splitlines()]
    stored = db.fetchone("SELECT COUNT(*) FROM log_events WHERE ts >= ? AND ts < ?",
                         (case.start - timedelta(minutes=240), case.end + timedelta(minutes=1)))[0]
    assert len(lines) == stored and lines == sorted(lines, key=lambda r: r["timestamp"])
    assert not any("ibdata1" in r["message"] for r in lines)
    assert any("[REDACTED]" in r["message"] for r in lines)                     # the configured pattern
    text = (target / "logs.jsonl").read_text()
    assert "hunter2" not in text and "alice@example.com" not in text and "bob@x.org" not in text   # the built-in
    result = run_case(case, base_urls[0], GraphSettings().resolved_url(services))
    assert result.error is None and result.rank == 1
    assert result.ranked == [f"{c['service']}@{c['host']}" for c in report["candidates"][:5]]
    with pytest.raises(CaptureError, match="already exists"):
        capture(db, incident_id, tmp_path, INVENTORY_TEXT)
    # `devmesh eval --cases DIR` runs the captured case as it runs the golden ones
    from click.testing import CliRunner

    from evals.cli import eval_cmd
    from tests.conftest import make_settings

    out = CliRunner().invoke(eval_cmd, ["--cases", str(tmp_path), "--json", "--jobs", "1"], obj=make_settings(db_urls))
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output.strip().splitlines()[-1])
    assert summary["cases"] == 1 and summary["rca_at_1"] == 1.0


def test_a_rejected_verdict_with_the_true_root_cause_fails_until_the_ranking_finds_it(seeded, base_urls, services,
                                                                                       tmp_path):
    db, graph = seeded
    incident_id, report = _live(db, graph)
    incident_sql.add_feedback(db, incident_id, "reject", None, None, None)
    with pytest.raises(CaptureError, match="names no root cause"):
        capture(db, incident_id, tmp_path, INVENTORY_TEXT)
    incident_sql.add_feedback(db, incident_id, "reject", "reports", "app-host", "it was the batch job")
    case = load(capture(db, incident_id, tmp_path, INVENTORY_TEXT))
    assert (case.root_service, case.root_host, case.impacted) == ("reports", "app-host", None)
    result = run_case(case, base_urls[0], GraphSettings().resolved_url(services))
    assert result.error is None and result.rank != 1                 # a regression test that fails today
    assert result.ranked[0] == f"{report['root_cause_service']}@{report['root_cause_host']}"


def test_the_command_says_what_is_missing(db_urls, tmp_path):
    from click.testing import CliRunner

    from evals.cli import eval_cmd
    from tests.conftest import make_settings

    out = CliRunner().invoke(eval_cmd, ["capture", "99999", str(tmp_path)], obj=make_settings(db_urls))
    assert out.exit_code == 1 and "no incident 99999" in out.output and not list(tmp_path.iterdir())
