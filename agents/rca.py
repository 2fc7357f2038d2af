"""Root cause of one exception in the code, as deterministic JSON: a pure function of the
gathered view (retrieval/rca_inputs.RcaView).

Candidates are the in-app frames mapped to indexed symbols, nearest the top first, then the
symbols the failing statements call, the symbols holding a value the error quotes, and the
symbols similar to the failure by embedding. Blame starts on the topmost mapped frame and
flows down the stack by what its failing statement does (agents/rca_flow.py): a guard that
raises keeps .3, a statement that only passes its parameters on keeps .1, one that computes
with its parameters alone keeps .4, one that uses its own locals or literal keys keeps it
all; a statement whose value comes from other in-app calls gives them .6. A value the error
message quotes that appears as a literal in a symbol adds .8 (shared among the symbols that
hold it); embedding similarity adds at most .1. Nothing here knows a program or a case.
"""
from __future__ import annotations

import re
from collections import defaultdict

from pydantic import BaseModel, Field

from agents.planner import Masker
from agents.rca_flow import facts
from agents.rca_params import extract
from retrieval.rca_inputs import RcaView

KEEP = {"raises": 0.3, "pass_through": 0.1, "computes": 0.4, "own": 1.0}
PRODUCER_SHARE = 0.6
LITERAL_WEIGHT = 0.8
SIMILARITY_WEIGHT = 0.1
FRAME_FLOOR = 0.02
MAX_CANDIDATES = 5
_QUOTED = re.compile(r"'([^'\n]{2,80})'|\"([^\"\n]{2,80})\"")


class RootCause(BaseModel):
    file_path: str | None
    symbol: str | None
    line_range: list[int] = Field(min_length=2, max_length=2)
    confidence: float = Field(ge=0, le=1)
    reasoning: str


class Candidate(BaseModel):
    rank: int
    file_path: str
    symbol: str
    line_range: list[int]
    score: float
    reasons: list[str]


class RcaResult(BaseModel):
    cluster_id: int | None
    service: str
    version: str | None
    version_exact: bool
    exception: dict
    likely_root_cause: RootCause
    candidates: list[Candidate]
    involved_parameters: list[dict]
    supporting_evidence: list[int]
    fix_suggestions: list[str]
    tests_to_add: list[str]
    written_by: str = "deterministic"


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def score(view: RcaView) -> list[tuple[dict, float, list[str]]]:
    """(symbol, score, reasons), best first."""
    by_id = {s["id"]: s for s in view.symbols}
    blame: dict[int, float] = defaultdict(float)
    why: dict[int, list[str]] = defaultdict(list)
    mapped = [f for f in view.frames if f.get("symbol")]
    carry = 1.0
    for i, frame in enumerate(mapped):
        sym = by_id.get(frame["symbol"]["id"], frame["symbol"])
        sid = sym["id"]
        blame[sid] += FRAME_FLOOR * 0.8 ** i
        if i == 0:
            why[sid].append("the topmost in-app frame")
        if carry < 0.01:
            continue
        fx = facts(sym.get("source", ""), sym["start_line"], frame["line"]) if sym.get("source") and \
            (frame.get("path") or "").endswith(".py") else None
        callee = _last(mapped[i - 1]["function"]) if i > 0 else None
        producers = [s for s in view.symbols if fx and s["kind"] != "class" and _last(s["qualname"]) in fx.calls
                     and _last(s["qualname"]) != callee and s["id"] != sid] if fx else []
        has_caller = i + 1 < len(mapped)
        if fx is None:
            keep, reason = 1.0, "its statement could not be read; the blame stays"
        elif fx.raises:
            keep, reason = KEEP["raises"], "raises on purpose: a guard rejecting a value its caller made"
        elif fx.own_values:
            keep, reason = KEEP["own"], "the failing statement uses values it made (locals, literal keys)"
        elif producers:
            keep, reason = 1 - PRODUCER_SHARE, "the failing value comes from calls it makes"
        elif fx.pass_through:
            keep, reason = KEEP["pass_through"], "only passes its parameters on"
        else:
            keep, reason = KEEP["computes"], "computes on its parameters alone"
        if producers:
            for p in producers:
                blame[p["id"]] += carry * PRODUCER_SHARE / len(producers)
                why[p["id"]].append(f"called by {sym['qualname']} on its failing line; the value may come from it")
            carry *= 1 - PRODUCER_SHARE
            producers_took = True
        else:
            producers_took = False
        if not has_caller:
            keep = 1.0
        blame[sid] += carry * keep
        why[sid].append(reason)
        carry = 0.0 if producers_took else carry * (1 - keep)
    quoted = {a or b for a, b in _QUOTED.findall(view.message)}
    for value in quoted:
        holders = [s for s in view.symbols if s["kind"] != "class" and (f"'{value}'" in s.get("source", "")
                                                                       or f'"{value}"' in s.get("source", ""))]
        for s in holders:
            blame[s["id"]] += LITERAL_WEIGHT / len(holders)
            why[s["id"]].append(f"holds the literal {value!r} that the error quotes")
    for s in view.symbols:
        sim = view.similarity.get(s["id"])
        if sim is not None and s["kind"] != "class":
            blame[s["id"]] += SIMILARITY_WEIGHT * max(sim, 0.0)
    ranked = sorted((sid for sid in blame if sid in by_id or any(f["symbol"]["id"] == sid for f in mapped)),
                    key=lambda sid: (-blame[sid], sid))
    out = []
    for sid in ranked:
        sym = by_id.get(sid) or next(f["symbol"] for f in mapped if f["symbol"]["id"] == sid)
        out.append((sym, round(blame[sid], 4), why[sid] or [f"similar to the failure ({view.similarity.get(sid, 0):.2f})"]))
    return out


def _fixes(top: dict, reasons: list[str], view: RcaView, params: list[dict]) -> tuple[list[str], list[str]]:
    name, kind = top["qualname"], view.exception_type.rsplit(".", 1)[-1]
    fixes = []
    if any("guard" in r for r in reasons) or any(r.startswith("called by") for r in reasons):
        fixes.append(f"Fix the value {name} produces or passes on, so the check deeper in the stack holds.")
    if kind in ("KeyError", "IndexError"):
        fixes.append(f"In {name}, make the key/index agree with what the data holds (or handle a missing one).")
    elif kind in ("TypeError", "AttributeError"):
        fixes.append(f"In {name}, pass the type the callee expects (convert or validate before the call).")
    elif kind in ("ZeroDivisionError", "ValueError", "InvalidOperation"):
        fixes.append(f"In {name}, validate the input that reached the failing operation (empty, negative, "
                     "unparsable) before using it.")
    fixes.append(f"Read {top['path']}:{top['start_line']}-{top['end_line']} ({name}) against the parameters logged "
                 "just before the error.")
    shown = ", ".join(f"{p['name']}={p['value']}" for p in params[:4])
    tests = [f"A unit test of {name} with the inputs from the failing run" + (f" ({shown})" if shown else "")
             + f" that expects no {kind}.",
             f"A regression test replaying the request/command that raised {kind} through the whole stack."]
    return fixes, tests


def build(view: RcaView, mask: tuple[str, ...] = ()) -> dict:
    """The deterministic RCA JSON (validated by RcaResult)."""
    masker = Masker(mask)
    ranked = [(s, sc, [masker(r) for r in reasons]) for s, sc, reasons in score(view)]   # reasons quote the error
    exception_text = f"{view.exception_type}: {view.message}"
    params = extract(view.events, exception_text, mask)
    evidence = list(dict.fromkeys([*view.exception_event_ids, *(p["event_id"] for p in params
                                                                 if p["event_id"] is not None)]))
    candidates = [Candidate(rank=i + 1, file_path=s["path"], symbol=s["qualname"],
                            line_range=[s["start_line"], s["end_line"]], score=sc, reasons=r)
                  for i, (s, sc, r) in enumerate(ranked[:MAX_CANDIDATES])]
    if ranked:
        top, top_score, reasons = ranked[0]
        total = sum(sc for _, sc, _ in ranked) or 1.0
        root = RootCause(file_path=top["path"], symbol=top["qualname"], line_range=[top["start_line"], top["end_line"]],
                         confidence=round(min(1.0, top_score / total), 2),
                         reasoning=f"{top['qualname']} ({top['path']}:{top['start_line']}): " + "; ".join(reasons)
                         + f". {view.exception_type} at version {view.version}"
                         + ("" if view.exact_version else " (the logged version is not indexed: the newest stands in)"))
        fixes, tests = _fixes(top, reasons, view, params)
    else:
        first = next((f for f in view.frames if f.get("in_app")), view.frames[0] if view.frames else None)
        line = int(first["line"]) if first and isinstance(first.get("line"), int) else 0
        root = RootCause(file_path=first.get("file") if first else None, symbol=first.get("function") if first else None,
                         line_range=[line, line], confidence=0.1,
                         reasoning="no indexed code maps to these frames: the topmost in-app frame, unranked; "
                                   "index the service with `devmesh code index`")
        fixes, tests = [f"Index {view.service}'s code at the version it runs to rank the frames."], []
    result = RcaResult(cluster_id=view.cluster_id, service=view.service, version=view.version,
                       version_exact=view.exact_version, exception={"type": view.exception_type,
                                                                    "message": masker(view.message[:500])},
                       likely_root_cause=root, candidates=candidates, involved_parameters=params,
                       supporting_evidence=evidence, fix_suggestions=fixes, tests_to_add=tests)
    return result.model_dump()
