"""The LLM's part of an RCA: over the same candidates the deterministic ranking chose, it
picks one and writes the reasoning, fixes and tests. It may pick only a listed candidate; a
reply that is not the schema's JSON, picks outside the list, or a model that fails leaves
the deterministic RCA as it was. What it reads is masked (agents.planner.Masker)."""
from __future__ import annotations

import logging

from langchain_core.messages import HumanMessage

from agents.llm import constrained, json_object, reply_text
from agents.planner import Masker
from agents.rca import RcaResult, RootCause
from prompts import render
from retrieval.rca_inputs import RcaView

log = logging.getLogger("devmesh.rca")
REPLY_TOKENS = 600
TEXT_CHARS = 1200
CODE_LINES = 40
SCHEMA = {"type": "object", "properties": {
    "pick": {"type": "integer", "minimum": 1},
    "reasoning": {"type": "string", "maxLength": TEXT_CHARS},
    "fix_suggestions": {"type": "array", "items": {"type": "string", "maxLength": 400}, "maxItems": 5},
    "tests_to_add": {"type": "array", "items": {"type": "string", "maxLength": 400}, "maxItems": 5}},
    "required": ["pick", "reasoning", "fix_suggestions", "tests_to_add"], "additionalProperties": False}


def prompt(view: RcaView, rca: dict, mask: tuple[str, ...] = ()) -> str:
    masker = Masker(mask)
    code = {(s["path"], s["qualname"]): s.get("source", "") for s in view.symbols}
    candidates = [dict(c, code=masker("\n".join(code.get((c["file_path"], c["symbol"]), "").splitlines()[:CODE_LINES])))
                  for c in rca["candidates"]]
    stack = "\n".join(f"- {f.get('function')} at {f.get('path') or f.get('file')}:{f.get('line')}"
                      for f in view.frames[:12]) or "(no frames)"
    params = "\n".join(f"- {p['name']}={p['value']}" for p in rca["involved_parameters"][:12]) or "(none)"
    return render("rca", exception=masker(f"{view.exception_type}: {view.message}"[:600]), version=view.version or "?",
                  stack=masker(stack), parameters=params, candidates=candidates)


def parse(text: str, n_candidates: int) -> dict | None:
    found = json_object(text)
    if found is None or not isinstance(found.get("pick"), int) or isinstance(found.get("pick"), bool):
        return None
    if not 1 <= found["pick"] <= n_candidates or not isinstance(found.get("reasoning"), str) \
            or not found["reasoning"].strip():
        return None
    lists = {k: [str(x)[:400] for x in found.get(k) or [] if isinstance(x, str) and x.strip()][:5]
             for k in ("fix_suggestions", "tests_to_add")}
    return {"pick": found["pick"], "reasoning": found["reasoning"].strip()[:TEXT_CHARS], **lists}


def explain(llm, view: RcaView, rca: dict, mask: tuple[str, ...] = (), name: str = "llm") -> tuple[dict, dict]:
    """(the RCA, what the LLM did: {status: ok|invalid|cut|error|skipped, ...})."""
    if not rca["candidates"]:
        return rca, {"status": "skipped", "detail": "no candidates to choose among"}
    try:
        text, cut = reply_text(constrained(llm, SCHEMA, REPLY_TOKENS), [HumanMessage(prompt(view, rca, mask))])
    except Exception as exc:  # noqa: BLE001 - the deterministic RCA stands on its own
        log.warning("the LLM could not write the RCA: %s", exc)
        return rca, {"status": "error", "detail": type(exc).__name__}
    found = parse(text, len(rca["candidates"]))
    if found is None:
        return rca, {"status": "cut" if cut else "invalid",
                     "detail": "not the schema's JSON, or a pick outside the candidates: the deterministic RCA stands"}
    chosen = rca["candidates"][found["pick"] - 1]
    total = sum(c["score"] for c in rca["candidates"]) or 1.0
    root = RootCause(file_path=chosen["file_path"], symbol=chosen["symbol"], line_range=chosen["line_range"],
                     confidence=round(min(1.0, chosen["score"] / total), 2), reasoning=found["reasoning"])
    merged = {**rca, "likely_root_cause": root.model_dump(),
              "fix_suggestions": found["fix_suggestions"] or rca["fix_suggestions"],
              "tests_to_add": found["tests_to_add"] or rca["tests_to_add"], "written_by": name}
    return RcaResult.model_validate(merged).model_dump(), {"status": "ok", "pick": found["pick"]}
