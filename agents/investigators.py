"""The investigation's LLM agents: timeline, root cause and impact, each a planner agent
(`agents.planner.run`: create_agent's ReAct loop, or plan-execute-synthesize for small
models) with its own prompt and named read-only tool set, then the reporter, which writes
the narrative from the deterministic analysis and the agents' findings.

The deterministic ranking is never changed by what an LLM writes: the findings and the
narrative sit beside it in the report. Ids an agent cites are checked against what its
tools returned and the analysis it was given; the rest are marked unverified.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field

from langchain_core.messages import HumanMessage, SystemMessage

from agents.citations import Evidence, check_citations, verified
from agents.llm import bounded, constrained, reply_text
from agents.planner import Masker, run
from prompts import render
from tools.catalog import ToolContext

log = logging.getLogger("devmesh.agents")

TOOLSETS: dict[str, list[str]] = {
    "timeline": ["query_logs", "compare_windows", "get_template_stats"],
    "root_cause": ["get_service_overview", "upstream_dependencies", "compare_windows", "get_log_context"],
    "impact": ["blast_radius", "get_service_overview", "find_runbooks"],
}


@dataclass
class Finding:
    role: str
    text: str
    tool_calls: list[dict] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)       # the verified ids the text cites ("template:ID")
    redactions: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _analysis(report: dict, mask: tuple[str, ...] = ()) -> str:
    """What the agents read: the deterministic result, compact, masked."""
    candidates = [f"{i}. {c['service']}" + (f" on {c['host']}" if c.get("host") else "") + f" (score {c['score']:.2f}): "
                  + "; ".join(c["reasons"][:3]) for i, c in enumerate(report["candidates"][:3], 1)]
    timeline = [f"- {e['at'][11:16]} {e['service']}: {e['text'][:160]}" for e in report["timeline"][:12]]
    return Masker(mask)("\n".join(["Candidates (deterministic ranking):", *candidates, "Timeline:", *timeline,
                               f"Impacted: {', '.join(report['impacted_services']) or 'none'}; "
                               f"at risk: {', '.join(report['at_risk_services']) or 'none'}"]))


def run_agents(llm, tools: ToolContext, incident: dict, report: dict, known_services: list[str],
               structured: bool = False, max_rounds: int = 3) -> list[Finding]:
    analysis = _analysis(report, tools.mask_patterns)
    cited = gathered(report)
    findings = []
    for role, names in TOOLSETS.items():
        started = time.perf_counter()
        # the incident and its analysis open every call's system message, identically, so a
        # llama.cpp or Ollama server reuses their cached prefix for the next agent's calls
        system = render(f"agent_{role}", max_rounds=max_rounds, known=known_services, title=incident["title"],
                        analysis=analysis)
        question = render("agent_task", role=role.replace("_", " "))
        try:
            result = run(question, llm, tools, max_rounds, structured=structured, known_services=known_services,
                         tool_names=names, system=system, known_evidence=cited)
            findings.append(Finding(role, result.answer, result.tool_calls, result.unverified,
                                    verified(result.answer, result.unverified), result.redactions,
                                    round(time.perf_counter() - started, 2)))
        except Exception as exc:  # noqa: BLE001 - one failing agent leaves the others and the report
            log.warning("the %s agent failed on incident %s", role, incident["id"], exc_info=True)
            findings.append(Finding(role, f"_The {role} agent failed ({type(exc).__name__})._",
                                    seconds=round(time.perf_counter() - started, 2)))
    return findings


NARRATIVE_TOKENS = 512
NARRATIVE_CHARS = 1500


def _fields(text: str) -> tuple[str, str | None]:
    """(narrative, root_cause_service) from the reporter's JSON, or from as much of it as
    arrived before the token bound cut it."""
    try:
        data = json.loads(text)
        return str(data.get("narrative") or ""), data.get("root_cause_service")
    except json.JSONDecodeError:
        pick = re.search(r'"root_cause_service"\s*:\s*"([^"\\]*)"', text)
        body = re.search(r'"narrative"\s*:\s*"((?:[^"\\]|\\.)*)', text, re.S)
        try:
            narrative = json.loads(f'"{body.group(1).rstrip(chr(92))}"') + " …" if body else ""
        except json.JSONDecodeError:
            narrative = ""
        return narrative, pick.group(1) if pick else None


def narrative(llm, incident: dict, report: dict, findings: list[Finding], structured: bool = False,
              mask: tuple[str, ...] = ()) -> dict:
    """The reporter: {"narrative", "root_cause_service" (the LLM's pick, or None), "unverified"}.
    In structured mode the pick is held to the candidates' names (or "unknown")."""
    context = render("agent_context", title=incident["title"], analysis=_analysis(report, mask))
    notes = "\n".join(f"- {f.role}: {f.text[:800]}" for f in findings)
    prompt = render("reporter", hypothesis=Masker(mask)(report["root_cause_hypothesis"]),
                    actions=report["suggested_actions"][:4], findings=notes[:12000], structured=structured)
    names = [c["service"] for c in report["candidates"][:5]] + ["unknown"]
    model = bounded(llm, NARRATIVE_TOKENS)
    if structured:
        model = constrained(llm, {"type": "object", "properties": {
            "root_cause_service": {"enum": names}, "narrative": {"type": "string", "maxLength": NARRATIVE_CHARS}},
            "required": ["root_cause_service", "narrative"], "additionalProperties": False}, NARRATIVE_TOKENS)
    pick = None
    try:
        text, cut = reply_text(model, [SystemMessage(context), HumanMessage(prompt)])  # a cut reply: _fields
    except Exception as exc:  # noqa: BLE001 - the deterministic report stands on its own
        log.warning("the reporter failed on incident %s", incident["id"], exc_info=True)
        return {"narrative": f"_The LLM could not write a narrative ({type(exc).__name__})._",
                "root_cause_service": None, "unverified": [], "cited": [], "cut": False, "names": None, "failed": True}
    if structured:
        text, pick = _fields(text)
    elif cut and text.strip():
        text = text.rstrip() + " …"
    evidence = gathered(report)
    evidence.ids |= {c for f in findings for c in f.cited}
    text, unverified = check_citations(text, evidence) if text.strip() else (None, [])
    pick = pick if pick in names[:-1] else None
    return {"narrative": text, "root_cause_service": pick, "unverified": unverified,
            "cited": verified(text or "", unverified), "cut": bool(cut and text), "failed": False,
            "names": pick or named(text, names[:-1])}


def named(text: str | None, candidates: list[str]) -> str | None:
    """The root cause a free-text narrative names: the ranking's top candidate when it is
    mentioned at all (whole words), else the first other candidate it mentions, else None.
    Cautious on purpose: only a narrative that leaves the top candidate out disagrees."""
    at = {s: m.start() for s in candidates if (m := re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text or "", re.I))}
    if candidates and candidates[0] in at:
        return candidates[0]
    return min(at, key=at.get) if at else None


def gathered(report: dict) -> Evidence:
    """The ids the deterministic analysis gathered (evidence templates, their example events,
    the timeline's templates): citable by every agent and the reporter."""
    return Evidence().add_data({k: report.get(k) for k in ("evidence_template_ids", "example_event_ids", "timeline",
                                                           "candidates")})
