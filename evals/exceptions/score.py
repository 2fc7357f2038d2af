"""`devmesh eval exceptions`: the RCA on real exceptions with known answers.

For each case of cases.yaml, in a scratch database: index its program with the code index
(service = the case, version v1, as its log lines say), ingest its captured output through
the real pipeline (each trace joined into one event, parsed, clustered), then score
- the clusters: one per planted bug, none split across two, none holding two bugs;
- each run's exception: the deterministic RCA's file and function against the planted bug
  at top-1 and top-3, beside the baseline "the topmost in-app frame" (ingest's in-app flag).
Each split (dev, test) is reported apart.
"""
from __future__ import annotations

import json

from agents.rca_cluster import failure_of_event
from agents.rca_run import rca_for
from db import exception_reads as clusters
from db import scratch
from db.pool import Database
from evals.exceptions.capture import HERE, VERSION, load_cases
from ingest.code_index import index_checkout
from ingest.embedders import HashingEmbedder
from ingest.normalize import parse_timestamp
from ingest.pipeline import Ingestor
from retrieval.code_map import map_frames


def _records(case: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / "captured" / f"{case}.jsonl").read_text().splitlines()]


def _same(path: str | None, symbol: str | None, bug: dict) -> bool:
    return bool(path and symbol) and (path == bug["path"] or path.endswith("/" + bug["path"])) \
        and symbol.replace(".<locals>", "") == bug["function"]


def _exception_events(db: Database, service: str) -> list[tuple[int, dict]]:
    """(cluster id, event) of every exception event the pipeline stored for the service."""
    return [(c["id"], e) for c in clusters.list_clusters(db, service=[service], limit=500)
            for e in clusters.events(db, c["id"], 500)]


def score_case(db: Database, embedder, name: str, case: dict) -> tuple[list[dict], dict]:
    """(one row per run, the case's clustering), through the real ingest pipeline."""
    index_checkout(db, embedder, HERE / "programs" / name, name, VERSION)
    records = _records(name)
    for _ in Ingestor(db).ingest_stream([records]):       # joins each trace into one event, then clusters it
        pass
    runs = json.loads((HERE / "captured" / "runs.json").read_text())[name]
    stored = _exception_events(db, name)
    out, cluster_of_run = [], {}
    for run in runs:
        lines = records[run["records"][0]:run["records"][1]]
        first, last = (parse_timestamp(lines[0]["timestamp"]), parse_timestamp(lines[-1]["timestamp"]))
        hits = [(cid, e) for cid, e in stored if first <= e["ts"] <= last]
        bug = case["bugs"][run["bug"]]
        row = {"case": name, "run": run["run"], "bug": run["bug"], "split": case["split"], "expected": bug}
        if len(hits) != 1:
            out.append({**row, "error": f"{len(hits)} exception events stored for this run"})
            continue
        cluster_id, event = hits[0]
        cluster_of_run[run["run"]] = cluster_id
        failure = failure_of_event(db, name, event)
        rca = rca_for(db, embedder, failure)
        mapped = map_frames(db, name, event["version"], failure.frames)["frames"]
        top_frame = next((f for f in mapped if f.get("in_app")), None)
        baseline = (top_frame["path"] or top_frame["file"],
                    top_frame["symbol"]["qualname"] if top_frame["symbol"] else top_frame["function"]) \
            if top_frame else (None, None)
        root = rca["likely_root_cause"]
        row.update(exception=event["exception_type"], cluster=cluster_id,
                   predicted={"path": root["file_path"], "function": root["symbol"]},
                   top1=_same(root["file_path"], root["symbol"], bug),
                   top3=any(_same(c["file_path"], c["symbol"], bug) for c in rca["candidates"][:3]),
                   baseline={"path": baseline[0], "function": baseline[1]},
                   baseline_top1=_same(baseline[0], baseline[1], bug),
                   bug_on_stack=any(f["symbol"] and _same(f["path"], f["symbol"]["qualname"], bug) for f in mapped))
        out.append(row)
    by_bug: dict[str, set[int]] = {}
    for run in runs:
        by_bug.setdefault(run["bug"], set()).add(cluster_of_run.get(run["run"], -1 - run["run"]))
    found = {cid for cid, _ in stored}
    split = sum(len(c) - 1 for c in by_bug.values())
    merged = sum(1 for cid in found if sum(cid in c for c in by_bug.values()) > 1)
    clustering = {"case": name, "split": case["split"], "bugs": len(by_bug), "clusters": len(found),
                  "split_bugs": split, "merged_clusters": merged,
                  "exact": len(found) == len(by_bug) and split == 0 and merged == 0}
    return out, clustering


def summarize(rows: list[dict], clusterings: list[dict]) -> dict:
    def rate(group: list[dict], key: str):
        scored = [r for r in group if "error" not in r]
        return round(sum(bool(r[key]) for r in scored) / len(scored), 3) if scored else None

    splits = {}
    for split in ("dev", "test", "all"):
        group = [r for r in rows if split == "all" or r["split"] == split]
        cases = [c for c in clusterings if split == "all" or c["split"] == split]
        splits[split] = {"cases": len(cases), "clusters_exact": round(sum(c["exact"] for c in cases) / len(cases), 3)
                         if cases else None, "clusters": sum(c["clusters"] for c in cases),
"exceptions": len(group), "bugs": len({(r["case"], r["bug"]) for r in group}),
                         "rca_top1": rate(group, "top1"), "rca_top3": rate(group, "top3"),
                         "baseline_top1": rate(group, "baseline_top1"),
                         "bug_on_stack": rate(group, "bug_on_stack")}
    return splits


def run(url, only_split: str | None = None, embedder=None) -> dict:
    """Score every case in a scratch database next to `url` (dropped afterwards), with the
    hashing embedder unless another is given."""
    cases = {n: c for n, c in load_cases().items() if only_split in (None, c["split"])}
    scratch_url = scratch.create_database(url, "exc")
    db = Database(scratch_url)
    try:
        embedder = embedder or HashingEmbedder(256)
        scored = [score_case(db, embedder, name, case) for name, case in sorted(cases.items())]
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    rows = [row for case_rows, _ in scored for row in case_rows]
    clusterings = [c for _, c in scored]
    return {"summary": summarize(rows, clusterings), "embedder": embedder.name, "clusterings": clusterings,
            "cases": rows}


def table(result: dict) -> str:
    lines = [f"{'split':<6} {'exc':>4} {'bugs':>5} {'clusters':>9} {'exact':>6} {'rca@1':>6} {'rca@3':>6} "
             f"{'top-frame@1':>12}"]
    for split, s in result["summary"].items():
        lines.append(f"{split:<6} {s['exceptions']:>4} {s['bugs']:>5} {s['clusters']:>9} {s['clusters_exact']!s:>6} "
                     f"{s['rca_top1']!s:>6} {s['rca_top3']!s:>6} {s['baseline_top1']!s:>12}")
    for c in result["clusterings"]:
        if not c["exact"]:
            lines.append(f"  clusters of {c['case']}: {c['clusters']} for {c['bugs']} bugs "
                         f"(split {c['split_bugs']}, merged {c['merged_clusters']})")
    for r in result["cases"]:
        mark = "ok " if r.get("top1") else ("@3 " if r.get("top3") else "-- ")
        lines.append(f"  {mark}{r['case']}/{r['run']} {r.get('exception', '?')}: expected {r['expected']['function']}"
                     f", got {r.get('predicted', {}).get('function')} (top frame {r.get('baseline', {}).get('function')})")
    return "\n".join(lines)


if __name__ == "__main__":
    from db.settings import DBSettings, ServicesSettings

    print(table(run(DBSettings().resolved(ServicesSettings())[0])))
