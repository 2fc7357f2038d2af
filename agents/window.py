"""One window's analysis end to end: read the rollups (db.counts), triage and extract
(agents/analysis.py, agents/extraction.py), then let the LLM write the prose when one is
configured (agents/extraction_llm.py). The HTTP routes and the CLI call `gather` and `run`."""
from __future__ import annotations

from datetime import datetime, timedelta

from agents import extraction_llm
from agents.analysis import MINUTE, SEVERE, Candidate, WindowView, build_view, triage
from agents.extraction import Extraction, extract
from db.counts import window_profile
from db.levels import LEVELS
from db.pool import Database

MAX_ROWS = 200_000                     # grouped rollup rows read for one window and its history


def gather(db: Database, services: list[str] | None, hosts: list[str] | None, levels: list[str] | None,
           since: datetime, until: datetime, baseline: timedelta) -> WindowView:
    """The view of [since, until) and `baseline` before it, grouped in SQL by history slice
    (db.counts.window_profile); each slice's rows carry one minute inside it, the window's
    their first minute, which is all build_view reads of a bucket."""
    start = since - baseline
    length = max(until - since, MINUTE)
    rows = window_profile(db, services, hosts, levels, start, since, until, max(60, int(length.total_seconds())),
                          limit=MAX_ROWS + 1)
    minute_rows = [(first if back < 0 else since - length * back - length / 2, service, host, level, template_id,
                    template, n) for back, service, host, level, template_id, template, n, first in rows[:MAX_ROWS]]
    return build_view(minute_rows, since, until, start, truncated=len(rows) > MAX_ROWS)


def window_text(view: WindowView) -> str:
    return f"{view.since.isoformat()}Z to {view.until.isoformat()}Z"


def deterministic(view: WindowView) -> tuple[list[Candidate], Extraction]:
    candidates = triage(view)
    return candidates, extract(view, candidates)


def with_llm(view: WindowView, candidates: list[Candidate], found: Extraction, llm, mask: tuple[str, ...] = ()
             ) -> tuple[Extraction, dict]:
    """The extraction with the LLM's prose (or as it was), and what the LLM did."""
    if llm is None:
        return found, {"status": "off"}
    found, note = extraction_llm.fill(llm, found, candidates, window_text(view), mask)
    return Extraction.model_validate(found.model_dump()), note


def run(view: WindowView, llm=None, mask: tuple[str, ...] = ()) -> dict:
    """{analysis: {...}, extraction: {...}, llm: {...}}; the extraction always validates."""
    candidates, found = deterministic(view)
    found, note = with_llm(view, candidates, found, llm, mask)
    return {"analysis": analysis_dict(view, candidates), "extraction": found.model_dump(), "llm": note}


def summary(view: WindowView) -> dict:
    """GET /summary: top templates, error and warning counts, notable first-seen lines, silence."""
    active = sorted((s for s in view.stats.values() if s.count), key=lambda s: (-s.count, s.template_id))
    first_seen = [s for s in active if view.slices and s.baseline == 0]
    first_seen.sort(key=lambda s: (-LEVELS.index(s.level), s.first, s.template_id))

    def row(s) -> dict:
        return {"service": s.service, "template_id": s.template_id, "template": s.template, "level": s.level,
                "count": s.count, "hosts": sorted(s.hosts), "first_seen": s.first.isoformat() + "Z"}
    errors = sum(n for lvl, n in view.by_level.items() if lvl in SEVERE)
    return {"window": analysis_dict(view, [])["window"], "lines": view.lines, "by_level": view.by_level,
            "errors": errors, "warnings": view.by_level.get("warning", 0), "services": view.services,
            "top_templates": [row(s) for s in active[:10]], "first_seen": [row(s) for s in first_seen[:10]],
            "silent": sorted(set(view.history_services) - set(view.services)) if view.slices else [],
            "truncated": view.truncated}


def analysis_dict(view: WindowView, candidates) -> dict:
    return {"window": {"since": view.since.isoformat() + "Z", "until": view.until.isoformat() + "Z",
                       "baseline_since": view.baseline_since.isoformat() + "Z", "history_slices": view.slices},
            "lines": view.lines, "by_level": view.by_level, "services": view.services,
            "templates": len([s for s in view.stats.values() if s.count]),
            "ranked": [c.as_dict() for c in candidates], "truncated": view.truncated}
