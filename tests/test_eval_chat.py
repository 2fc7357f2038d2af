"""The chat eval gates every change on its no-LLM path: the 64 questions of evals/chat over
three golden cases (each replayed once, all its questions asked against it) must never score
below evals/chat/baseline.json, and a question file that breaks the format is refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from db.settings import GraphSettings
from evals.chat.score import QUESTIONS, QuestionError, discover, run

BASELINE = json.loads((QUESTIONS.parent / "baseline.json").read_text())


def test_chat_eval_never_scores_below_its_baseline(base_urls, services, tmp_path: Path):
    questions = discover()
    assert len(questions) >= 60 and {q["split"] for q in questions} == {"dev", "test"}
    assert {"overview", "errors", "changed", "dependencies", "similar", "incidents", "runbooks", "vague",
            "refuse", "unknown", "current", "cause"} <= {q["kind"] for q in questions}
    summary = run(questions, base_urls[0], GraphSettings().resolved_url(services))
    assert summary["questions"] == BASELINE["questions"]
    for metric in ("fact_recall", "route_accuracy"):
        assert summary[metric] >= BASELINE[metric] - 1e-9, f"{metric} dropped: {summary[metric]} vs {BASELINE[metric]}"
        for split, floors in BASELINE["by_split"].items():
            got = summary["by_split"][split][metric]
            assert got >= floors[metric] - 1e-9, f"{split} {metric} dropped: {got} vs {floors[metric]}"
    assert summary["forbidden_claim_rate"] <= BASELINE["forbidden_claim_rate"] + 1e-9
    assert summary["unverified_citations"] <= BASELINE["unverified_citations"]
    assert summary["tokens"]["calls"] == 0                       # no LLM on this path
    assert summary["latency_ms_p95"] < 2000
    row = summary["per_question"][0]
    assert set(row) >= {"route", "expected_route", "found", "facts", "forbidden_claims", "unverified", "ms"}

    broken = tmp_path / "questions.yaml"
    broken.write_text("- {case: case-01, q: 'no route given'}\n")
    with pytest.raises(QuestionError):
        discover(broken)
