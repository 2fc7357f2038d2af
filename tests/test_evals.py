"""The golden incidents gate every change: the whole suite runs (real pipeline, real MariaDB
and FalkorDB, no LLM) and must meet the gates and never score below evals/baseline.json;
so does the outsider test set (evals/cases-outsider, written from outside, never tuned on)
against evals/baseline-outsider.json. Both must beat the naive baseline."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from db.settings import GraphSettings
from evals.cases import CASES_DIR, CaseError, discover, load
from evals.runner import run, summarize, CaseResult

EVALS = Path(__file__).resolve().parent.parent / "evals"
BASELINE = json.loads((EVALS / "baseline.json").read_text())
OUTSIDER = json.loads((EVALS / "baseline-outsider.json").read_text())
LOWER_IS_BETTER = {"false_incidents", "mean_time_to_detect_s"}


@pytest.fixture(scope="module")
def summary(base_urls, services):
    return run(discover(), base_urls[0], GraphSettings().resolved_url(services), jobs=2)


@pytest.fixture(scope="module")
def outsider(base_urls, services):
    return run(discover(EVALS / "cases-outsider"), base_urls[0], GraphSettings().resolved_url(services), jobs=2)


def _floor(summary: dict, metric: str, floor: float) -> None:
    value = summary[metric]
    if metric in LOWER_IS_BETTER:
        assert value <= floor * 1.25 + 1e-9, f"{metric} got worse: {value} vs baseline {floor}"
    else:
        assert value >= floor - 1e-9, f"{metric} dropped: {value} vs baseline {floor}"


def test_the_suite_has_the_promised_cases():
    cases = discover()
    assert len(cases) >= 30
    assert sum(not c.incident for c in cases) >= 6
    triggered = [c for c in cases if c.trigger_at]
    assert len(triggered) >= 6 and any(c.trigger_service is None for c in triggered)
    assert any(c.inventory.parent == c.path for c in triggered)        # fleets known only through traces
    for case in cases:
        assert case.slug.startswith("case-") and case.tags and set(case.tags) & {"easy", "medium", "hard"}
        if case.incident:
            assert case.root_service, case.slug
    dev, test = discover(split="dev"), discover(split="test")
    assert len(dev) + len(test) == len(cases) and min(len(dev), len(test)) >= 12


def test_gates(summary):
    assert summary["errors"] == []
    assert summary["detection_recall"] == 1.0
    assert summary["false_incidents"] == 0
    assert summary["rca_at_1"] >= 0.85
    assert summary["rca_at_1"] > summary["naive"]["rca_at_1"] and summary["rca_at_3"] > summary["naive"]["rca_at_3"]
    assert set(summary["by_split"]) == {"dev", "test"}
    assert summary["top1_spread"]["ours"]["share"] <= 0.35       # not the same few services every time


@pytest.mark.parametrize("metric", sorted(k for k in BASELINE if k != "cases"))
def test_no_score_below_the_baseline(summary, metric):
    _floor(summary, metric, BASELINE[metric])


def test_the_outsider_set_beats_the_naive_baseline_and_its_floors(outsider):
    assert outsider["errors"] == [] and outsider["cases"] >= 40
    assert outsider["false_incidents"] == 0                      # its no-fault controls open nothing
    assert outsider["rca_at_1"] > outsider["naive"]["rca_at_1"]
    assert outsider["rca_at_3"] > outsider["naive"]["rca_at_3"]
    for metric in sorted(k for k in OUTSIDER if k != "cases"):
        _floor(outsider, metric, OUTSIDER[metric])


def test_scoring_rules():
    hit = CaseResult("a", True, False, incidents=1, detected=True, time_to_detect_s=60, rank=1)
    third = CaseResult("b", True, False, incidents=2, detected=True, time_to_detect_s=120, rank=3)
    missed = CaseResult("c", True, False, incidents=0, detected=False, rank=None)
    control = CaseResult("d", False, False, incidents=1)
    hit.tags, third.tags, missed.tags = ["db", "hard"], ["db"], ["net"]
    hit.split, third.split, missed.split = "dev", "test", "test"
    hit.naive_rank, third.naive_rank, missed.naive_rank = 2, 1, None
    hit.ranked, third.ranked, missed.ranked = ["mariadb@db"], ["api@app"], ["mariadb@db"]
    s = summarize([hit, third, missed, control])
    assert s["detection_recall"] == round(2 / 3, 4) and s["false_incidents"] == 1
    assert s["rca_at_1"] == round(1 / 3, 4) and s["rca_at_3"] == round(2 / 3, 4)
    assert s["mean_time_to_detect_s"] == 90.0
    assert s["naive"] == {"rca_at_1": round(1 / 3, 4), "rca_at_3": round(2 / 3, 4), "rca_at_5": round(2 / 3, 4)}
    assert s["by_tag"]["db"] == {"cases": 2, "rca_at_1": 0.5, "rca_at_3": 1.0, "naive_rca_at_1": 0.5,
                                 "naive_rca_at_3": 1.0}
    assert s["by_tag"]["net"]["rca_at_3"] == 0.0 and s["by_split"]["test"]["cases"] == 2
    assert s["top1_spread"]["ours"] == {"distinct": 2, "most_common": "mariadb", "share": round(2 / 3, 3)}


def test_a_malformed_case_is_refused(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "case.yaml").write_text("title: x\nwindow: {start: 2026-01-01T00:00:00Z}\n")
    (folder / "logs.jsonl").write_text("")
    with pytest.raises(CaseError, match="window needs start and end"):
        load(folder)
    assert CASES_DIR.is_dir()


def test_an_llm_writing_the_reports_does_not_change_the_ranking(base_urls, services):
    import respx

    from agents.llm import LLMSettings, UsageCounter, build_chat_model
    from evals.runner import run_case
    from tests.test_planner import OLLAMA, ndjson

    case = discover(only="case-01")[0]
    usage = UsageCounter()
    with respx.mock:
        route = respx.post(f"{OLLAMA}/api/chat").mock(side_effect=lambda request: ndjson(
            "The database filled its disk; the API and dashboards failed after it."))
        with_llm = run_case(case, base_urls[0], GraphSettings().resolved_url(services), usage=usage,
                            llm=build_chat_model(LLMSettings(backend="ollama", url=OLLAMA, timeout_s=5), [usage]))
    without = run_case(case, base_urls[0], GraphSettings().resolved_url(services))
    assert route.call_count == 4 * with_llm.incidents >= 4          # three agents and the reporter per incident
    assert with_llm.llm_usage["calls"] == route.call_count and with_llm.llm_usage["input_tokens"] > 0
    assert (with_llm.evidence_recall, with_llm.impact_precision) == (without.evidence_recall,
                                                                    without.impact_precision)
    assert (with_llm.rank, with_llm.ranked, with_llm.impact_recall) == (without.rank, without.ranked,
                                                                       without.impact_recall)
