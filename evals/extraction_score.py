"""The extraction eval: labeled windows (evals/extraction/cases/*.yaml) through the pure
ingest step (normalize -> canonicalize -> template, ingest.pipeline.process_batch) into minute
rollup rows, the window analysis (agents/analysis.py, agents/extraction.py) and, with --llm,
the LLM's prose; each field scored against the label, no LLM judge:

- severity and component: exact (component also as macro F1 over the labels' classes);
- error signature: the template of the labeled line (ingest.templates) equals the cited one;
- root cause and action: a rubric, the share of the label's term groups the text contains
  (a group is alternatives, `disk|space`, matched as lowercase substrings);
- summary: token F1 against the labeled summary.

Weighted total: root cause 40%, action 25%, severity 20%, summary 10%, component F1 5%.
Beside it the naive baseline: the window's loudest error template (else warning), described
by the same writers, so the difference is what the triage picks.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from agents.analysis import build_view, loudest, triage
from agents.extraction import Extraction, describe, extract
from ingest.normalize import parse_duration
from ingest.pipeline import process_batch
from ingest.templates import template_of

CASES = Path(__file__).resolve().parent / "extraction" / "cases"
BACKGROUNDS = CASES.parent / "backgrounds.yaml"
WEIGHTS = {"root_cause": 0.40, "action": 0.25, "severity": 0.20, "summary": 0.10, "component_f1": 0.05}
SEVERITIES = {"critical", "high", "medium", "low", "info"}
_TOKEN = re.compile(r"[a-z0-9]+")


class CaseError(ValueError):
    """A case file that cannot be read; the message names the file and the field."""


@dataclass
class Case:
    slug: str
    split: str
    tags: list[str]
    start: datetime
    minutes: int
    history_hours: float
    lines: list[dict]
    expect: dict
    records: list[dict] = field(default_factory=list)


def _offset(value) -> timedelta:
    text = str(value).strip()
    negative = text.startswith("-")
    span = parse_duration(text.lstrip("-+")) if text.lstrip("-+") not in ("0", "") else timedelta(0)
    return -span if negative else span


def _fill(message: str, seed: int, i: int) -> str:
    r = zlib.crc32(f"{seed}:{i}".encode())
    values = {"i": i, "r": r % 1000, "pid": 1000 + r % 30000, "port": 32768 + r % 28000,
              "ip": f"10.{r % 7}.{(r >> 3) % 250}.{(r >> 11) % 250 + 2}", "ms": 3 + r % 400,
              "hex": f"{r:08x}", "n": 1 + r % 50}
    filled = re.sub(r"(?<!\{)\{(\w+)\}(?!\})", lambda m: str(values.get(m.group(1), m.group(0))), message)
    return filled.replace("{{", "{").replace("}}", "}")


def expand(spec: dict, start: datetime, seed: int) -> list[dict]:
    """One line spec -> wire records: `n` lines (1 s apart) at `at`, or every `every` from
    `from` to `to` (offsets from the window's start, negative = history)."""
    n = int(spec.get("n", 1))
    if "every" in spec:
        step = _offset(spec["every"])
        first, last = _offset(spec.get("from", "0")), _offset(spec.get("to", "0"))
        moments = []
        t = first
        while t < last:
            moments.append(t)
            t += step
    else:
        moments = [_offset(spec.get("at", "0"))]
    out = []
    for k, t in enumerate(moments):
        for j in range(n):
            i = k * n + j
            ts = start + t + timedelta(seconds=j, milliseconds=(zlib.crc32(f'{seed}/{i}'.encode()) % 997))
            out.append({"timestamp": ts.isoformat() + "Z", "host": spec["host"], "service": spec["service"],
                        "level": spec.get("level", "info"), "message": _fill(spec["msg"], seed, i)})
    return out


def load(path: Path, backgrounds: dict | None = None) -> Case:
    try:
        raw = yaml.safe_load(path.read_text())
        window = raw["window"]
        shared = backgrounds if backgrounds is not None else _backgrounds(path.parent.parent / "backgrounds.yaml")
        raw["lines"] = [spec for name in raw.get("background", []) for spec in shared[name]] + list(raw["lines"])
        case = Case(path.stem, raw["split"], list(raw.get("tags", [])),
                    datetime.fromisoformat(str(window["start"]).replace("Z", "")).replace(tzinfo=None),
                    int(window["minutes"]), float(raw.get("history_hours", 6)), list(raw["lines"]), dict(raw["expect"]))
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise CaseError(f"{path}: {type(exc).__name__}: {exc} (see evals/README.md, the extraction set)") from None
    if case.split not in ("dev", "test") or case.expect.get("severity") not in SEVERITIES:
        raise CaseError(f"{path}: split must be dev or test and expect.severity one of {sorted(SEVERITIES)}")
    return case


def records_of(case: Case) -> list[dict]:
    if not case.records:
        for k, spec in enumerate(case.lines):
            case.records += expand(spec, case.start, zlib.crc32(f"{case.slug}:{k}".encode()))
    return case.records


def _backgrounds(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def discover(folder: Path = CASES, split: str | None = None) -> list[Case]:
    shared = _backgrounds(folder.parent / "backgrounds.yaml")
    cases = [load(p, shared) for p in sorted(folder.glob("*.yaml"))]
    return [c for c in cases if split is None or c.split == split]


def view_of(case: Case):
    """The case's lines as the minute rollups the server would hold for them."""
    batch = process_batch(records_of(case))
    if batch.rejected:
        raise CaseError(f"{case.slug}: records rejected by ingest: {batch.rejected[:3]}")
    rows: dict[tuple, int] = {}
    text: dict[int, str] = {}
    for record, template in zip(batch.records, batch.templates):
        key = (record.ts.replace(second=0, microsecond=0), record.service, record.host, record.level, template.id)
        rows[key] = rows.get(key, 0) + 1
        text[template.id] = template.template
    since = case.start
    flat = [(b, s, h, lvl, t, text[t], n) for (b, s, h, lvl, t), n in rows.items()]
    return build_view(flat, since, since + timedelta(minutes=case.minutes),
                      since - timedelta(hours=case.history_hours))


def rubric(text: str, groups: list[str]) -> float:
    if not groups:
        return 1.0
    low = (text or "").lower()
    return sum(1 for g in groups if any(alt.strip().lower() in low for alt in str(g).split("|"))) / len(groups)


def token_f1(text: str, reference: str) -> float:
    got, want = _TOKEN.findall((text or "").lower()), _TOKEN.findall((reference or "").lower())
    if not got or not want:
        return float(got == want)
    common, pool = 0, list(want)
    for token in got:
        if token in pool:
            pool.remove(token)
            common += 1
    if not common:
        return 0.0
    p, r = common / len(got), common / len(want)
    return 2 * p * r / (p + r)


def score(case: Case, found: Extraction) -> dict:
    e = case.expect
    line = e.get("signature")
    want_id = template_of(line)[0] if line else None
    got_id = found.error_signature.template_id if found.error_signature else None
    return {"severity": float(found.severity == e["severity"]),
            "component": float((found.component or None) == (e.get("component") or None)),
            "signature": float(got_id == want_id),
            "root_cause": rubric(found.root_cause, e.get("root_cause", [])),
            "action": rubric(found.action, e.get("action", [])),
            "summary": token_f1(found.summary, e.get("summary", ""))}


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = {w for w, _ in pairs}
    if not labels:
        return 0.0
    f1s = []
    for label in labels:
        tp = sum(1 for w, g in pairs if w == label and g == label)
        fp = sum(1 for w, g in pairs if w != label and g == label)
        fn = sum(1 for w, g in pairs if w == label and g != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


def aggregate(rows: list[dict]) -> dict:
    if not rows:
        return {"cases": 0}
    n = len(rows)
    out = {"cases": n}
    for key in ("severity", "component", "signature", "root_cause", "action", "summary"):
        out[key] = round(sum(r["scores"][key] for r in rows) / n, 4)
    out["component_f1"] = round(macro_f1([(r["want_component"], r["got_component"]) for r in rows]), 4)
    out["total"] = round(sum(w * out[k] for k, w in WEIGHTS.items()), 4)
    return out


def naive(view) -> Extraction:
    """The loudest error template (else warning), described as the triage's pick would be."""
    candidates = triage(view, limit=10_000)
    top = loudest(view)
    chosen = next((c for c in candidates if top is not None and c.stat is top), None)
    return describe(view, candidates, chosen)


def run(cases: list[Case], llm=None, mask: tuple[str, ...] = (), progress=None, usage=None) -> dict:
    """`usage` (agents.llm.UsageCounter, a callback of `llm`) gives the model calls and tokens."""
    import time

    from agents.extraction_llm import fill
    from agents.window import window_text

    ours, base, with_llm, per_case = [], [], [], []
    llm_status: dict[str, int] = {}
    seconds: list[float] = []
    for case in cases:
        view = view_of(case)
        candidates = triage(view)
        found = extract(view, candidates)
        entry = {"slug": case.slug, "split": case.split, "tags": case.tags,
                 "want_component": case.expect.get("component") or "none"}
        row = {**entry, "scores": score(case, found), "got_component": found.component or "none"}
        ours.append(row)
        plain = naive(view)
        base.append({**entry, "scores": score(case, plain), "got_component": plain.component or "none"})
        out = {"slug": case.slug, "split": case.split, "severity": found.severity, "component": found.component,
               "signature": found.error_signature.template_id if found.error_signature else None,
               "scores": row["scores"]}
        if llm is not None:
            start = time.perf_counter()
            written, note = fill(llm, found, candidates, window_text(view), mask)
            seconds.append(time.perf_counter() - start)
            llm_status[note["status"]] = llm_status.get(note["status"], 0) + 1
            with_llm.append({**entry, "scores": score(case, written), "got_component": written.component or "none"})
            out["llm"] = {"status": note["status"], "seconds": round(seconds[-1], 1), "scores": with_llm[-1]["scores"]}
        per_case.append(out)
        if progress:
            progress(out)
    result = {"weights": WEIGHTS, "cases": per_case, "splits": {}}
    for split in ("dev", "test", None):
        name = split or "all"
        pick = [r for r in ours if split is None or r["split"] == split]
        result["splits"][name] = {"deterministic": aggregate(pick),
                                  "naive": aggregate([r for r in base if split is None or r["split"] == split])}
        if llm is not None:
            result["splits"][name]["llm"] = aggregate([r for r in with_llm if split is None or r["split"] == split])
    tags = sorted({t for r in ours for t in r["tags"]})
    result["by_tag"] = {tag: {"deterministic": aggregate([r for r in ours if tag in r["tags"]]),
                              "naive": aggregate([r for r in base if tag in r["tags"]])} for tag in tags}
    if llm is not None:
        result["llm_status"] = llm_status
        ordered = sorted(seconds)
        result["llm_usage"] = {**(usage.snapshot() if usage else {}), "seconds_total": round(sum(seconds), 1),
                               "seconds_per_case_p50": round(ordered[len(ordered) // 2], 1) if ordered else None}
    return result
