"""The structured extraction of a window, held to one schema, written deterministically from
the triage (agents/analysis.py); an LLM may rewrite the prose fields (agents/extraction_llm.py).

`{root_cause, component, error_signature {template_id, text}, severity, action, summary}`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agents.analysis import SEVERE, Candidate, WindowView, pick, severity

PROSE = ("root_cause", "action", "summary")
PROSE_CHARS = 1200


class Signature(BaseModel):
    template_id: int
    text: str = Field(max_length=2000)


class Extraction(BaseModel):
    root_cause: str = Field(max_length=PROSE_CHARS)
    component: str | None = None
    error_signature: Signature | None = None
    severity: Literal["critical", "high", "medium", "low", "info"]
    action: str = Field(max_length=PROSE_CHARS)
    summary: str = Field(max_length=PROSE_CHARS)


def _span(view: WindowView) -> str:
    minutes = round((view.until - view.since).total_seconds() / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _how(c: Candidate, view: WindowView) -> str:
    if view.slices == 0:
        return f"x{c.stat.count}; no history before the window to compare with"
    history = _hist(view)
    if c.novel:
        return f"x{c.stat.count}, new: not seen in the service's previous {history}"
    if c.ratio is not None and c.ratio >= 1.5:
        return f"x{c.stat.count}, {c.ratio:.0f} times its usual rate over the previous {history}"
    return f"x{c.stat.count}, about its usual count over the previous {history}"


def _hist(view: WindowView) -> str:
    hours = (view.since - view.baseline_since).total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def summary(view: WindowView, candidates: list[Candidate], chosen: Candidate | None) -> str:
    errors = sum(n for lvl, n in view.by_level.items() if lvl in SEVERE)
    warnings = view.by_level.get("warning", 0)
    parts = [f"{view.lines} lines from {len(view.services)} service(s) in {_span(view)}: {errors} error-or-worse, "
             f"{warnings} warnings."]
    if chosen is not None:
        s = chosen.stat
        parts.append(f"Most notable: {s.service} {s.level} “{s.template[:200]}” x{s.count} on "
                     f"{', '.join(sorted(s.hosts)[:3])}{' (new)' if chosen.novel else ''}.")
    habitual = [c for c in candidates if c.habitual and c is not chosen][:2]
    if habitual:
        parts.append("Habitual, at their usual rate: " + "; ".join(
            f"{c.stat.service} “{c.stat.template[:120]}” x{c.stat.count}" for c in habitual) + ".")
    quiet = sorted(set(view.history_services) - set(view.services))
    if quiet and view.slices:
        parts.append(f"Silent in the window though heard before: {', '.join(quiet[:5])}.")
    return " ".join(parts)[:PROSE_CHARS]


def extract(view: WindowView, candidates: list[Candidate]) -> Extraction:
    """The deterministic extraction: always valid against the schema."""
    return describe(view, candidates, pick(view, candidates))


def describe(view: WindowView, candidates: list[Candidate], chosen: Candidate | None) -> Extraction:
    """The extraction about `chosen` (None: the window holds no new problem)."""
    text = summary(view, candidates, chosen)
    if chosen is None:
        if view.lines == 0:
            cause = ("No lines at all in the window for this scope: check the service or host name, or whether "
                     "it ships logs (a silence is not proof of health).")
        elif not candidates:
            cause = "No errors or warnings in the window: nothing points at a problem."
        else:
            top = candidates[0].stat
            cause = (f"No new problem: the window's warnings and errors are habitual (the loudest, {top.service} "
                     f"“{top.template[:200]}” x{top.count}, is at its usual rate).")
        return Extraction(root_cause=cause, component=None, error_signature=None, severity="info",
                          action="None needed.", summary=text)
    s = chosen.stat
    label = chosen.primitive.name.replace("_", " ") if chosen.primitive else f"{s.level} in {s.service}"
    cause = f"{label}: {s.service} logs “{s.template[:300]}” ({_how(chosen, view)}) on {', '.join(sorted(s.hosts)[:5])}."
    if chosen.primitive is not None:
        action = "; ".join(chosen.primitive.actions)
    else:
        host = sorted(s.hosts)[0]
        action = (f"Read {s.service}'s lines on {host} from {s.first:%H:%M} UTC (GET /query/logs?service={s.service}"
                  f"&template_id={s.template_id}) and check what changed then on {s.service} or what it calls "
                  "(deploy, config, a dependency).")
    return Extraction(root_cause=cause[:1200], component=s.service,
                      error_signature=Signature(template_id=s.template_id, text=s.template[:2000]),
                      severity=severity(chosen), action=action[:1200], summary=text)
