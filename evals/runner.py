"""`devmesh eval`: replay golden cases through the real pipeline and score the results.

Each case gets its own scratch database and graph (an empty migrated database, reused from
case to case once emptied, and a graph made then dropped): its inventory
is loaded, every log line is ingested through the one ingest pipeline, then a replay
clock steps through the window one minute at a time running the detector cycle, a
`trigger` (an incident opened from outside) is opened at its moment, and every incident
is investigated with the same graph the server runs. Scores come only from comparing the
reports with the case's `expect`.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from db import incidents as incident_sql
from db import scratch
from db import templates as template_sql
from db.graph import Graph
from db.pool import Database
from db.settings import DBUrl
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from evals.cases import Case
from evals.naive import rank as naive_rank
from graphs.investigate import Context, investigate
from ingest.inventory import load as load_inventory_file
from ingest.merging import TemplateLearner
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory

MINUTE = timedelta(minutes=1)
TRIGGER_LOOKBACK = timedelta(minutes=15)


@dataclass
class CaseResult:
    slug: str
    incident_expected: bool
    triggered: bool
    incidents: int = 0
    detected: bool = False
    detectors_ok: bool = True
    time_to_detect_s: float | None = None
    rank: int | None = None                 # 1-based rank of the expected root cause, None = not in the list
    ranked: list[str] = field(default_factory=list)
    impact_precision: float | None = None
    impact_recall: float | None = None
    evidence_recall: float | None = None
    latency_ms: list[float] = field(default_factory=list)
    root_cause: str | None = None
    llm_root_cause: str | None = None       # the reporter LLM's own pick (structured mode), beside the ranking
    llm_correct: bool | None = None
    llm_usage: dict | None = None           # model calls, tokens and seconds for this case
    agent_tool_calls: int = 0
    unverified_citations: int = 0
    error: str | None = None
    split: str = "dev"
    tags: list[str] = field(default_factory=list)
    naive_rank: int | None = None           # the naive baseline's rank of the expected root cause
    naive_ranked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _matches(candidate: dict, case: Case) -> bool:
    return candidate["service"] == case.root_service and (case.root_host is None or candidate.get("host") == case.root_host)


@dataclass
class Replayed:
    """A case's data loaded into its scratch database and graph, the clock replayed."""
    db: Database
    graph: Graph
    inventory: object
    opened: list[tuple[int, object]]          # (incident id, the minute it opened)


@contextmanager
def replayed(case: Case, url: DBUrl, graph_url: str, settings: DetectorSettings | None = None,
             databases: scratch.Scratch | None = None):
    """Load `case` into an empty scratch database (one of `databases`, else one made for it)
    and a fresh graph, ingest every line, replay the detector clock (and the trigger); yield,
    then drop the graph and give the database back (or drop it). The incident eval and the
    chat eval (evals/chat) share it."""
    settings = settings or DetectorSettings()
    own = databases is None
    scratch_url = scratch.create_database(url, "eval") if own else databases.take()
    db = Database(scratch_url)
    graph = Graph(graph_url, f"devmesh_eval_{scratch_url.database}")
    try:
        inventory = load_inventory_file(case.inventory)
        services = ServiceMap(inventory)
        load_inventory(graph, inventory)
        records = sorted(case.records(), key=lambda r: str(r.get("timestamp")))
        ingestor = Ingestor(db, services=services)
        for _ in ingestor.ingest_stream(records[i:i + 2000] for i in range(0, len(records), 2000)):
            pass
        TemplateLearner(db, ingestor.merges).run()        # as the server's learning job would have by now
        opened: list[tuple[int, object]] = []
        units = services.names()
        minute, triggered = case.start, False
        # the clock ticks each minute from the window's start; a trigger inside the last
        # minute still opens, at the window's end
        while minute <= case.end or (case.trigger_at and not triggered and minute - MINUTE < case.end):
            if case.trigger_at and not triggered and (minute >= case.trigger_at or minute > case.end):
                with db.transaction() as cur:
                    incident_id = incident_sql.open_incident(
                        cur, f"opened from outside: {case.trigger_service or 'whole fleet'}", "manual", "error",
                        case.trigger_service, None, [case.trigger_service] if case.trigger_service else [],
                        case.trigger_at - TRIGGER_LOOKBACK, case.trigger_at, minute)
                opened.append((incident_id, minute))
                triggered = True
            for incident_id in run_cycle(db, graph, settings, minute, units).opened:
                opened.append((incident_id, minute))
            minute += MINUTE
        yield Replayed(db, graph, inventory, opened)
    finally:
        db.close()
        graph.drop()
        graph.close()
        if own:
            scratch.drop_database(scratch_url)
        else:
            databases.give_back(scratch_url)


def run_case(case: Case, url: DBUrl, graph_url: str, settings: DetectorSettings | None = None,
             llm=None, structured: bool = False, usage=None, databases: scratch.Scratch | None = None) -> CaseResult:
    """`llm` runs the investigation agents and the reporter; `usage` (agents.llm.UsageCounter)
    is read before and after to give this case's model calls and tokens; `databases`, the
    scratch databases to replay it in (reused from case to case)."""
    result = CaseResult(case.slug, case.incident, case.trigger_at is not None, split=case.split, tags=list(case.tags))
    try:
        with replayed(case, url, graph_url, settings, databases) as replay:
            _investigate_and_score(case, replay, result, llm, structured, usage)
    except Exception as exc:  # noqa: BLE001 - one broken case is reported, the suite goes on
        result.error = f"{type(exc).__name__}: {exc}"
        if os.environ.get("DEVMESH_EVAL_TRACEBACK"):
            import traceback
            traceback.print_exc()
    return result


def _investigate_and_score(case: Case, replay: Replayed, result: CaseResult, llm, structured: bool, usage) -> None:
    db, graph, inventory, opened = replay.db, replay.graph, replay.inventory, replay.opened
    result.incidents = len(opened)
    detector_ids = [i for i, _ in opened if incident_sql.get(db, i)["trigger"] != "manual"]
    result.detected = bool(detector_ids)
    if result.detected:
        first = min(at for i, at in opened if i in detector_ids)
        result.time_to_detect_s = max(0.0, (first - case.start).total_seconds())
        if case.detectors:
            fired = {s["detector"] for i in detector_ids for s in incident_sql.signals(db, i)}
            result.detectors_ok = bool(fired & set(case.detectors))
    reports = []
    before = usage.snapshot() if usage else None
    for incident_id, _ in opened:
        start = time.perf_counter()
        state = investigate(incident_id, Context(db, graph, inventory=lambda: inventory, llm=llm,
                                                 structured=structured, now=lambda: case.end))
        result.latency_ms.append(round((time.perf_counter() - start) * 1e3, 1))
        llm_part = state["report"].get("llm")
        if llm_part:
            result.agent_tool_calls += sum(len(a["tool_calls"]) for a in llm_part["agents"])
            result.unverified_citations += len(llm_part["unverified"]) + sum(
                len(a["unverified"]) for a in llm_part["agents"])
        # a case with a trigger scores the ranking of the incident opened from outside
        if not case.trigger_at or incident_id not in detector_ids:
            reports.append(state["report"])
    if usage:
        after = usage.snapshot()
        result.llm_usage = {k: after[k] - before[k] for k in after}
        result.llm_usage["seconds"] = round(sum(result.latency_ms) / 1e3, 1)
    if case.root_service and reports:
        _score(case, reports, db, result)
    if case.root_service:
        naive = naive_rank(db, case.start, case.end)
        result.naive_ranked = [f"{c['service']}@{c['host']}" for c in naive]
        result.naive_rank = next((i for i, c in enumerate(naive, 1) if _matches(c, case)), None)


def _score(case: Case, reports: list[dict], db: Database, result: CaseResult) -> None:
    """The report that ranks the expected root cause best is the one scored (an operator
    reads every report of the window); impact and evidence come from that report."""
    def rank_in(report: dict) -> int | None:
        for i, candidate in enumerate(report["candidates"], 1):
            if _matches(candidate, case):
                return i
        return None

    ranked = sorted(reports, key=lambda r: (rank_in(r) or 99, -r["confidence"]))
    best = ranked[0]
    result.rank = rank_in(best)
    result.ranked = [f"{c['service']}@{c.get('host')}" for c in best["candidates"][:5]]
    result.root_cause = best["root_cause_service"]
    result.llm_root_cause = (best.get("llm") or {}).get("root_cause_service")
    result.llm_correct = result.llm_root_cause == case.root_service if best.get("llm") else None
    if case.impacted is not None:
        predicted, expected = set(best["impacted_services"]), set(case.impacted)
        result.impact_precision = len(predicted & expected) / len(predicted) if predicted else float(not expected)
        result.impact_recall = len(predicted & expected) / len(expected) if expected else 1.0
    if case.evidence:
        texts = [t["template"] for t in template_sql.get_many(db, best["evidence_template_ids"]).values()]
        texts += [e for ids in best["example_event_ids"].values() for e in ids]
        examples = _example_messages(db, best)
        corpus = "\n".join(texts + examples).lower()
        result.evidence_recall = sum(s.lower() in corpus for s in case.evidence) / len(case.evidence)


def _example_messages(db: Database, report: dict) -> list[str]:
    from db import events

    ids = [int(e.split(":")[1]) for ids in report["example_event_ids"].values() for e in ids]
    return events.messages(db, ids)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(results: list[CaseResult]) -> dict:
    faults = [r for r in results if r.incident_expected and not r.triggered]
    controls = [r for r in results if not r.incident_expected]
    rca = [r for r in results if r.incident_expected]
    latencies = [ms for r in results for ms in r.latency_ms]
    return {
        "cases": len(results),
        "detection_recall": _mean([float(r.detected and r.detectors_ok) for r in faults]),
        "false_incidents": sum(r.incidents for r in controls),
        "rca_at_1": _mean([float(r.rank == 1) for r in rca]),
        "rca_at_3": _mean([float(r.rank is not None and r.rank <= 3) for r in rca]),
        "rca_at_5": _mean([float(r.rank is not None and r.rank <= 5) for r in rca]),
        "avg_at_5": _mean([sum(float(r.rank is not None and r.rank <= k) for k in range(1, 6)) / 5 for r in rca]),
        "impact_precision": _mean([r.impact_precision for r in results if r.impact_precision is not None]),
        "impact_recall": _mean([r.impact_recall for r in results if r.impact_recall is not None]),
        "evidence_recall": _mean([r.evidence_recall for r in results if r.evidence_recall is not None]),
        "mean_time_to_detect_s": _mean([r.time_to_detect_s for r in faults if r.time_to_detect_s is not None]),
        "investigation_ms_p50": sorted(latencies)[len(latencies) // 2] if latencies else None,
        "naive": _at_k([r.naive_rank for r in rca]),
        "top1_spread": {"ours": _spread([r.ranked[0].split("@")[0] for r in rca if r.ranked]),
                        "naive": _spread([r.naive_ranked[0].split("@")[0] for r in rca if r.naive_ranked])},
        "by_split": _grouped(rca, lambda r: [r.split]),
        "by_tag": _grouped(rca, lambda r: r.tags),
        "errors": [f"{r.slug}: {r.error}" for r in results if r.error],
        **({"llm": _llm_summary(results, rca)} if any(r.llm_usage for r in results) else {}),
        "per_case": [r.as_dict() for r in results],
    }


def _at_k(ranks: list[int | None]) -> dict:
    return {f"rca_at_{k}": _mean([float(r is not None and r <= k) for r in ranks]) for k in (1, 3, 5)}


def _spread(top: list[str]) -> dict:
    """How many distinct services the ranking puts first, and the most frequent one's share:
    a ranking that always names the same few services is broken whatever its average."""
    if not top:
        return {"distinct": 0, "most_common": None, "share": None}
    most = max(sorted(set(top)), key=top.count)
    return {"distinct": len(set(top)), "most_common": most, "share": round(top.count(most) / len(top), 3)}


def _grouped(rca: list[CaseResult], keys) -> dict:
    """Per tag (or split): how many cases, our RCA@1/@3 and the naive baseline's beside them."""
    groups: dict[str, list[CaseResult]] = {}
    for r in rca:
        for key in keys(r):
            groups.setdefault(key, []).append(r)
    out = {}
    for key in sorted(groups):
        rows = groups[key]
        ours, naive = _at_k([r.rank for r in rows]), _at_k([r.naive_rank for r in rows])
        out[key] = {"cases": len(rows), "rca_at_1": ours["rca_at_1"], "rca_at_3": ours["rca_at_3"],
                    "naive_rca_at_1": naive["rca_at_1"], "naive_rca_at_3": naive["rca_at_3"]}
    return out


def _llm_summary(results: list[CaseResult], rca: list[CaseResult]) -> dict:
    """How the LLM did beside the ranking: its own root-cause pick, citations, cost."""
    usage = [r.llm_usage for r in results if r.llm_usage]
    seconds = sorted(u["seconds"] for u in usage)
    return {
        "llm_rca_at_1": _mean([float(bool(r.llm_correct)) for r in rca]),
        "llm_picks": sum(r.llm_root_cause is not None for r in rca),
        "agent_tool_calls": sum(r.agent_tool_calls for r in results),
        "unverified_citations": sum(r.unverified_citations for r in results),
        "model_calls": sum(u["calls"] for u in usage),
        "input_tokens": sum(u["input_tokens"] for u in usage),
        "output_tokens": sum(u["output_tokens"] for u in usage),
        "seconds_per_case_p50": seconds[len(seconds) // 2] if seconds else None,
        "seconds_total": round(sum(seconds), 1),
    }


_WORKER_DATABASES: dict[DBUrl, scratch.Scratch] = {}     # a worker process's own, dropped as it exits


def _run_one(args: tuple) -> CaseResult:
    case, url, graph_url = args
    if url not in _WORKER_DATABASES:
        import atexit

        _WORKER_DATABASES[url] = scratch.Scratch(url, "eval")
        atexit.register(_WORKER_DATABASES[url].close)
    return run_case(case, url, graph_url, databases=_WORKER_DATABASES[url])


def run(cases: list[Case], url: DBUrl, graph_url: str, progress=None, llm=None, structured: bool = False,
        usage=None, jobs: int = 1) -> dict:
    """`jobs` > 1 replays that many cases at once in worker processes (each case has its own
    scratch database and graph, so they never meet; a process empties its database for its
    next case); with an LLM, one at a time."""
    results = []
    if jobs > 1 and llm is None and len(cases) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(jobs, len(cases)), mp_context=multiprocessing.get_context("spawn")) as pool:
            for result in pool.map(_run_one, [(case, url, graph_url) for case in cases]):
                results.append(result)
                if progress:
                    progress(result)
        return summarize(results)
    databases = scratch.Scratch(url, "eval")
    try:
        for case in cases:
            results.append(run_case(case, url, graph_url, llm=llm, structured=structured, usage=usage,
                                    databases=databases))
            if progress:
                progress(results[-1])
    finally:
        databases.close()
    return summarize(results)
