"""`devmesh eval chat`: ask the chat graph the questions of evals/chat/questions.yaml over
the golden cases' data and score the answers deterministically (no LLM judge).

Each case named by a question is replayed once (evals.runner.replayed: its logs, inventory
and detector clock in a fresh database and graph), its incidents investigated without an
LLM, the repo's runbooks ingested and the templates embedded; then every question of that
case is asked through the same chat graph the server runs, with "now" at the window's end.
Scores: fact recall (required substrings found), forbidden-claim rate, route accuracy,
unverified citations (a cited id no tool returned, or that names no row), latency p50/p95
and the model's tokens.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import yaml

from agents.citations import cited_ids
from db import incidents as incident_sql
from db import templates as template_sql
from evals.cases import CASES_DIR, load
from evals.runner import replayed
from graphs.chat import ChatContext, stream
from graphs.investigate import Context, investigate
from ingest.embedders import HashingEmbedder
from ingest.embedding import EmbeddingWorker
from retrieval.runbooks import ingest_dir
from tools.catalog import ToolContext

QUESTIONS = Path(__file__).resolve().parent / "questions.yaml"
RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
_KEYS = {"case", "split", "kind", "q", "route", "facts", "forbidden"}


class QuestionError(ValueError):
    pass


def discover(path: Path = QUESTIONS, split: str | None = None) -> list[dict]:
    rows = yaml.safe_load(path.read_text()) or []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or set(row) - _KEYS or not {"case", "q", "route"} <= set(row):
            raise QuestionError(f"{path}: question {n} needs case, q, route (and only {sorted(_KEYS)})")
        if row.get("split", "dev") not in ("dev", "test"):
            raise QuestionError(f"{path}: question {n}: split is dev or test")
        row.setdefault("split", "dev")
        row.setdefault("facts", [])
        row.setdefault("forbidden", [])
    return [r for r in rows if split is None or r["split"] == split]


async def _ask(question: str, ctx: ChatContext) -> dict:
    out = {"route": None, "markdown": "", "citations": [], "tools": 0}
    async for event, data in stream(question, ctx):
        if event == "answer":
            out["markdown"], out["citations"] = data["markdown"], list(data.get("citations") or [])
        elif event == "tool" and data.get("status") == "end":
            out["tools"] += 1
        elif event == "_state":
            out["route"] = data.get("route")
    return out


def _unverified(db, markdown: str, citations: list[str]) -> list[str]:
    """Cited ids the tools did not return (the routes' own check) or that name no row."""
    bad = []
    for cited in cited_ids(markdown):
        kind, value = cited.split(":", 1)
        missing = cited not in citations
        if not missing and kind == "template":
            missing = not value.isdigit() or not template_sql.get_many(db, [int(value)])
        elif not missing and kind == "incident":
            missing = not value.isdigit() or incident_sql.get(db, int(value)) is None
        if missing:
            bad.append(cited)
    return bad


def score_answer(question: dict, got: dict, unverified: list[str], ms: float) -> dict:
    text = got["markdown"].lower()
    found = [f for f in question["facts"] if str(f).lower() in text]
    claimed = [f for f in question["forbidden"] if str(f).lower() in text]
    return {"case": question["case"], "split": question["split"], "kind": question.get("kind"), "q": question["q"],
            "route": got["route"], "expected_route": question["route"], "route_ok": got["route"] == question["route"],
            "facts": len(question["facts"]), "found": len(found), "missing": [f for f in question["facts"]
                                                                               if f not in found],
            "forbidden_claims": claimed, "unverified": unverified, "tools": got["tools"], "ms": round(ms, 1)}


def run_case(slug: str, questions: list[dict], url, graph_url: str, llm=None, structured: bool = False,
             usage=None) -> list[dict]:
    case = load(CASES_DIR / slug)
    rows = []
    with replayed(case, url, graph_url) as replay:
        now = lambda: case.end  # noqa: E731 - the replay clock
        for incident_id, _ in replay.opened:
            investigate(incident_id, Context(replay.db, replay.graph, inventory=lambda: replay.inventory, now=now))
        embedder = HashingEmbedder()
        ingest_dir(replay.db, replay.graph, embedder, RUNBOOKS, replay.inventory, now=case.end)
        worker = EmbeddingWorker(replay.db, embedder)
        worker.backfill()
        tools = ToolContext(replay.db, replay.graph, embedder, worker.table, now)
        ctx = ChatContext(tools, lambda: replay.inventory, None, llm, structured=structured)
        for question in questions:
            before = usage.snapshot() if usage else None
            t0 = time.perf_counter()
            got = asyncio.run(_ask(question["q"], ctx))
            row = score_answer(question, got, _unverified(replay.db, got["markdown"], got["citations"]),
                               (time.perf_counter() - t0) * 1e3)
            if usage:
                after = usage.snapshot()
                row["tokens"] = {k: after[k] - before[k] for k in after}
            rows.append(row)
    return rows


def _pct(values: list[float], p: int) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)] if ordered else None


def summarize(rows: list[dict]) -> dict:
    def block(part: list[dict]) -> dict:
        facts = sum(r["facts"] for r in part)
        return {"questions": len(part),
                "fact_recall": round(sum(r["found"] for r in part) / facts, 4) if facts else None,
                "forbidden_claim_rate": round(sum(bool(r["forbidden_claims"]) for r in part) / len(part), 4),
                "route_accuracy": round(sum(r["route_ok"] for r in part) / len(part), 4),
                "unverified_citations": sum(len(r["unverified"]) for r in part),
                "latency_ms_p50": _pct([r["ms"] for r in part], 50),
                "latency_ms_p95": _pct([r["ms"] for r in part], 95)} if part else {"questions": 0}
    tokens = [r["tokens"] for r in rows if "tokens" in r]
    out = {**block(rows), "by_split": {s: block([r for r in rows if r["split"] == s]) for s in ("dev", "test")},
           "by_kind": {k: block([r for r in rows if r["kind"] == k]) for k in sorted({r["kind"] for r in rows})}}
    out["tokens"] = {k: sum(t[k] for t in tokens) for k in ("calls", "input_tokens", "output_tokens")} \
        if tokens else {"calls": 0, "input_tokens": 0, "output_tokens": 0}
    out["per_question"] = rows
    return out


def run(questions: list[dict], url, graph_url: str, llm=None, structured: bool = False, usage=None,
        progress=None) -> dict:
    rows = []
    for slug in dict.fromkeys(q["case"] for q in questions):
        case_rows = run_case(slug, [q for q in questions if q["case"] == slug], url, graph_url, llm, structured,
                             usage)
        rows += case_rows
        if progress:
            for row in case_rows:
                progress(row)
    return summarize(rows)


def table(summary: dict) -> str:
    lines = [f"{'':<14} {'questions':>9} {'facts':>7} {'forbid':>7} {'route':>7} {'unverif':>7} {'p50 ms':>8} "
             f"{'p95 ms':>8}"]
    parts = {"all": summary, **{f"split {k}": v for k, v in summary["by_split"].items()},
             **{f"  {k}": v for k, v in summary["by_kind"].items()}}
    for name, b in parts.items():
        if b.get("questions"):
            lines.append(f"{name:<14} {b['questions']:>9} {b['fact_recall']!s:>7} {b['forbidden_claim_rate']!s:>7} "
                         f"{b['route_accuracy']!s:>7} {b['unverified_citations']:>7} {b['latency_ms_p50']!s:>8} "
                         f"{b['latency_ms_p95']!s:>8}")
    lines.append(f"tokens: {summary['tokens']}")
    return "\n".join(lines)
