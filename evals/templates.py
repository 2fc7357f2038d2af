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

from ingest.canon import FAMILY_RULES, canonicalize, clear_caches, generic, steps_without
from ingest.learn import MIN_VALUES, learn

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


def devmesh_templates(messages: list[str], learned: bool = True, min_values: int = MIN_VALUES,
                      subsume: bool = True) -> list[str]:
    """Each message's template (generic form): masks, then the learned layer over the file."""
    templates = [generic(canonicalize(m)) for m in messages]
    if not learned:
        return templates
    mapping = learn(set(templates), min_values, subsume)
    return [mapping.get(t, t) for t in templates]


def score_devmesh(messages: list[str], truth_ids: list[str], truth_templates: list[str],
                  repeat: int = 3, learned: bool = True) -> dict:
    best = float("inf")
    for _ in range(repeat):
        clear_caches()                      # every repeat starts cold, as Drain3's one run does
        start = time.perf_counter()
        templates = devmesh_templates(messages, learned)
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


# the learned layer's settings searched by leave-one-out (the default is MIN_VALUES, subsume)
CONFIGS = [(k, sub) for k in (2, 3, 4, 5) for sub in (True, False)]


def _canon_sets(truth: str, steps=None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    canon, ids = {}, {}
    for name in DATASETS:
        messages, ids[name], _ = load(name, truth)
        canon[name] = [generic(canonicalize(m, steps)) for m in messages]
    return canon, ids


def _learned_ga(canon: list[str], ids: list[str], config: tuple) -> float:
    mapping = learn(set(canon), *config)
    return grouping_accuracy([mapping.get(t, t) for t in canon], ids)


def leave_one_out(truth: str = "corrected") -> dict:
    """For each dataset: the learned layer's setting that scores best on the other seven,
    and the GA it gets on the held-out one; with the masks as shipped, and with the masks
    that know one family of formats off (canon.FAMILY_RULES: a stand-in for a format no rule
    was grown on, since the shipped rules were grown on all eight). The default setting is
    the one this second mode picks."""
    out = {}
    for mode, steps in (("shipped_masks", None), ("generic_masks", steps_without(FAMILY_RULES))):
        canon, ids = _canon_sets(truth, steps)
        ga = {c: {d: _learned_ga(canon[d], ids[d], c) for d in DATASETS} for c in CONFIGS}
        held = {}
        for name in DATASETS:
            others = [d for d in DATASETS if d != name]
            best = max(CONFIGS, key=lambda c: (round(sum(ga[c][d] for d in others), 6), c == (MIN_VALUES, True)))
            held[name] = {"ga": round(ga[best][name], 4), "min_values": best[0], "subsume": best[1]}
        all_in = max(CONFIGS, key=lambda c: (round(sum(ga[c].values()), 6), c == (MIN_VALUES, True)))
        out[mode] = {"held_out": held,
                     "average": round(sum(h["ga"] for h in held.values()) / len(DATASETS), 4),
                     "worst": min(h["ga"] for h in held.values()),
                     "all_in": {"min_values": all_in[0], "subsume": all_in[1],
                                "ga": round(sum(ga[all_in].values()) / len(DATASETS), 4)},
                     "default": round(sum(ga[(MIN_VALUES, True)].values()) / len(DATASETS), 4),
                     "masks_only": round(sum(grouping_accuracy(canon[d], ids[d]) for d in DATASETS)
                                         / len(DATASETS), 4)}
    return out


def rule_ablation(truth: str = "corrected") -> dict:
    """What each family rule changes, dataset by dataset (masks + learned layer, default
    setting): GA with the rule off minus GA with it on; only changes of 0.001 or more."""
    base_canon, ids = _canon_sets(truth)
    base = {d: _learned_ga(base_canon[d], ids[d], (MIN_VALUES, True)) for d in DATASETS}
    out = {}
    for rule in FAMILY_RULES:
        canon, _ = _canon_sets(truth, steps_without([rule]))
        diff = {d: round(_learned_ga(canon[d], ids[d], (MIN_VALUES, True)) - base[d], 4) for d in DATASETS}
        out[rule] = {d: v for d, v in diff.items() if abs(v) >= 0.001}
    return out


def run(truth: str = "corrected", with_drain: bool = True) -> dict:
    """Per dataset and average scores for DevMesh (masks + learned, and masks only) and
    Drain3, as one JSON-able dict, with the leave-one-out GA of the learned layer."""
    per = {}
    for name in DATASETS:
        messages, ids, templates = load(name, truth)
        row = {"devmesh": score_devmesh(messages, ids, templates),
               "devmesh_masks_only": score_devmesh(messages, ids, templates, learned=False)}
        if with_drain:
            row["drain3"] = score_drain3(messages, ids, templates)
        per[name] = row
    average = {}
    for parser in per[DATASETS[0]]:
        average[parser] = {k: round(sum(per[d][parser][k] for d in DATASETS) / len(DATASETS), 4)
                           for k in ("ga", "pa", "pa_spans", "lines_per_s")}
    speed = {p: sorted(per[d][p]["lines_per_s"] / per[d]["drain3"]["lines_per_s"] for d in DATASETS)
             for p in ("devmesh", "devmesh_masks_only")} if with_drain else {}
    return {"truth": truth, "datasets": per, "average": average,
            "speed_vs_drain3_median": {p: round((v[3] + v[4]) / 2, 3) for p, v in speed.items()},
            "leave_one_out": leave_one_out(truth), "rule_off_minus_on": rule_ablation(truth)}
