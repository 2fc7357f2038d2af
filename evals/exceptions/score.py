"""`devmesh eval exceptions`: the RCA on real exceptions with known answers.

For each case of cases.yaml: index its program with the code index (service = the case,
version v1, as its log lines say) into a scratch database, read each captured run's
exception, gather the RCA's view and build the deterministic RCA, then score the root
cause's file and function against the planted bug at top-1 and top-3, beside the baseline
"the topmost in-app frame" (the innermost frame whose file is indexed code). Each run is
one exception; each split (dev, test) is reported apart.
"""
from __future__ import annotations

import json

from agents.rca import build
from db import scratch
from db.pool import Database
from evals.exceptions.capture import HERE, VERSION, load_cases
from evals.exceptions.traces import read
from ingest.code_index import index_checkout
from ingest.embedders import HashingEmbedder
from retrieval.code_map import map_frames
from retrieval.rca_inputs import gather


def _records(case: str) -> list[dict]:
    return [json.loads(line) for line in (HERE / "captured" / f"{case}.jsonl").read_text().splitlines()]


def _same(path: str | None, symbol: str | None, bug: dict) -> bool:
    return bool(path and symbol) and (path == bug["path"] or path.endswith("/" + bug["path"])) \
        and symbol.replace(".<locals>", "") == bug["function"]


def score_case(db: Database, embedder, name: str, case: dict) -> list[dict]:
    index_checkout(db, embedder, HERE / "programs" / name, name, VERSION)
    records = _records(name)
    runs = json.loads((HERE / "captured" / "runs.json").read_text())[name]
    out = []
    for run in runs:
        lines = records[run["records"][0]:run["records"][1]]
        exc = read([r["message"] for r in lines])
        bug = case["bugs"][run["bug"]]
        row = {"case": name, "run": run["run"], "bug": run["bug"], "split": case["split"], "expected": bug}
        if exc is None:
            out.append({**row, "error": "no exception in the captured output"})
            continue
        events = [{"id": i, "message": r["message"]} for i, r in enumerate(lines, start=run["records"][0])
                  if r["level"] != "error"]
        view = gather(db, embedder, name, lines[0]["meta"]["version"], exc["type"], exc["message"], exc["frames"],
                      events=events, exception_event_ids=[run["records"][0]])
        rca = build(view)
        mapped = map_frames(db, name, VERSION, exc["frames"])["frames"]
        top_frame = next((f for f in mapped if f["path"]), None)
        baseline = (top_frame["path"], top_frame["symbol"]["qualname"] if top_frame["symbol"] else top_frame["function"]) \
            if top_frame else (None, None)
        root = rca["likely_root_cause"]
        row.update(exception=exc["type"], predicted={"path": root["file_path"], "function": root["symbol"]},
                   top1=_same(root["file_path"], root["symbol"], bug),
                   top3=any(_same(c["file_path"], c["symbol"], bug) for c in rca["candidates"][:3]),
                   baseline={"path": baseline[0], "function": baseline[1]},
                   baseline_top1=_same(baseline[0], baseline[1], bug),
                   bug_on_stack=any(f["symbol"] and _same(f["path"], f["symbol"]["qualname"], bug) for f in mapped))
        out.append(row)
    return out


def summarize(rows: list[dict]) -> dict:
    def rate(group: list[dict], key: str):
        scored = [r for r in group if "error" not in r]
        return round(sum(bool(r[key]) for r in scored) / len(scored), 3) if scored else None

    splits = {}
    for split in ("dev", "test", "all"):
        group = [r for r in rows if split == "all" or r["split"] == split]
        splits[split] = {"exceptions": len(group), "bugs": len({(r["case"], r["bug"]) for r in group}),
                         "rca_top1": rate(group, "top1"), "rca_top3": rate(group, "top3"),
                         "baseline_top1": rate(group, "baseline_top1"),
                         "bug_on_stack": rate(group, "bug_on_stack")}
    return splits


def run(url, only_split: str | None = None) -> dict:
    """Score every case in a scratch database next to `url` (dropped afterwards)."""
    cases = {n: c for n, c in load_cases().items() if only_split in (None, c["split"])}
    scratch_url = scratch.create_database(url, "exc")
    db = Database(scratch_url)
    try:
        embedder = HashingEmbedder(256)
        rows = [row for name, case in sorted(cases.items()) for row in score_case(db, embedder, name, case)]
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    return {"summary": summarize(rows), "clusters": None, "cases": rows}


def table(result: dict) -> str:
    lines = [f"{'split':<6} {'exc':>4} {'bugs':>5} {'rca@1':>6} {'rca@3':>6} {'top-frame@1':>12}"]
    for split, s in result["summary"].items():
        lines.append(f"{split:<6} {s['exceptions']:>4} {s['bugs']:>5} {s['rca_top1']!s:>6} {s['rca_top3']!s:>6} "
                     f"{s['baseline_top1']!s:>12}")
    for r in result["cases"]:
        mark = "ok " if r.get("top1") else ("@3 " if r.get("top3") else "-- ")
        lines.append(f"  {mark}{r['case']}/{r['run']} {r.get('exception', '?')}: expected {r['expected']['function']}"
                     f", got {r.get('predicted', {}).get('function')} (top frame {r.get('baseline', {}).get('function')})")
    return "\n".join(lines)


if __name__ == "__main__":
    from db.settings import DBSettings, ServicesSettings

    print(table(run(DBSettings().resolved(ServicesSettings())[0])))
