"""Template quality on Loghub-2k: grouping accuracy (GA), parsing accuracy (PA), speed.

Reads the public benchmark from ../shared/data/loghub2k (or DEVMESH_LOGHUB_DIR); it is
not copied into the repository. Our canonicalizer runs with its one default configuration
on every dataset; Drain3 runs with its default config in the same process for comparison.
"""
from __future__ import annotations

import csv
import os
import re
import time
from collections import defaultdict
from pathlib import Path

from ingest.canon import canonicalize, generic

DATASETS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "Linux", "OpenSSH", "Apache", "HealthApp"]
DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub2k"


def data_dir() -> Path:
    path = Path(os.environ.get("DEVMESH_LOGHUB_DIR", DEFAULT_DIR))
    if not (path / "HDFS").is_dir():
        raise FileNotFoundError(f"Loghub-2k data not found at {path}: it lives in ../shared/data/"
                                "loghub2k beside the clone, or set DEVMESH_LOGHUB_DIR")
    return path


def load(dataset: str, truth: str = "corrected", by_event_id: bool = False) -> tuple[list[str], list[str], list[str]]:
    """(messages, truth group ids, truth templates) of one dataset."""
    suffix = {"original": "", "corrected": "_corrected", "loghub2": "_corrected_loghub2"}[truth]
    path = data_dir() / dataset / f"{dataset}_2k.log_structured{suffix}.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # the true group of a line is its template text (loghub-2.0's convention): a few
    # corrected files give one template text several EventIds
    groups = [r["EventId"] if by_event_id else _norm(r["EventTemplate"]) for r in rows]
    return [r["Content"] for r in rows], groups, [r["EventTemplate"] for r in rows]


def grouping_accuracy(predicted: list[str], truth: list[str]) -> float:
    """Share of lines whose predicted group holds exactly the lines of their true group."""
    pred_groups: dict[str, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth)):
        pred_groups[p].add(i)
        true_groups[t].add(i)
    correct = sum(len(lines) for t, lines in true_groups.items()
                  if pred_groups[predicted[next(iter(lines))]] == lines)
    return correct / len(truth)


def _norm(template: str) -> str:
    return " ".join(template.split())


_SPAN = re.compile(r"/?<\*>(?:[:/.#_-]*<\*>)*")


def _span(template: str) -> str:
    """One variable per span: `/<*>:<*>` (an address and port) and `<*>` are one slot."""
    return _SPAN.sub("<*>", template)


def parsing_accuracy(predicted_templates: list[str], truth_templates: list[str], spans: bool = False) -> float:
    """Share of lines whose template text equals the truth (typed placeholders read as <*>);
    with `spans`, adjacent variables joined by punctuation count as one on both sides."""
    def form(t: str) -> str:
        return _norm(_span(t) if spans else t)

    ok = sum(form(generic(p)) == form(t) for p, t in zip(predicted_templates, truth_templates))
    return ok / len(truth_templates)


def score_devmesh(messages: list[str], truth_ids: list[str], truth_templates: list[str],
                  repeat: int = 3) -> dict:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        templates = [generic(canonicalize(m)) for m in messages]
        best = min(best, time.perf_counter() - start)
    return {"ga": round(grouping_accuracy(templates, truth_ids), 4),
            "pa": round(parsing_accuracy(templates, truth_templates), 4),
            "pa_spans": round(parsing_accuracy(templates, truth_templates, spans=True), 4),
            "lines_per_s": round(len(messages) / best)}


def score_drain3(messages: list[str], truth_ids: list[str], truth_templates: list[str]) -> dict:
    import logging

    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    logging.getLogger("drain3").setLevel(logging.WARNING)
    config = TemplateMinerConfig()          # Drain3's defaults; no masking, no per-dataset tuning
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    start = time.perf_counter()
    cluster_ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
    elapsed = time.perf_counter() - start
    final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    templates = [final[c] for c in cluster_ids]
    return {"ga": round(grouping_accuracy([str(c) for c in cluster_ids], truth_ids), 4),
            "pa": round(parsing_accuracy(templates, truth_templates), 4),
            "pa_spans": round(parsing_accuracy(templates, truth_templates, spans=True), 4),
            "lines_per_s": round(len(messages) / elapsed)}


def run(truth: str = "corrected", with_drain: bool = True) -> dict:
    """Per dataset and average scores for DevMesh (and Drain3), as one JSON-able dict."""
    per = {}
    for name in DATASETS:
        messages, ids, templates = load(name, truth)
        row = {"devmesh": score_devmesh(messages, ids, templates)}
        if with_drain:
            row["drain3"] = score_drain3(messages, ids, templates)
        per[name] = row
    average = {}
    for parser in per[DATASETS[0]]:
        average[parser] = {k: round(sum(per[d][parser][k] for d in DATASETS) / len(DATASETS), 4)
                           for k in ("ga", "pa", "pa_spans", "lines_per_s")}
    return {"truth": truth, "datasets": per, "average": average}
