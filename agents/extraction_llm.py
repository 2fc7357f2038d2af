"""The LLM's part of the extraction: it rewrites only the prose fields (root cause, action,
summary), held to a JSON schema, and may cite only templates the triage ranked. A reply that
is cut, not JSON, off the schema, or a model that fails leaves the deterministic fields as
they were; the result always validates against agents.extraction.Extraction."""
from __future__ import annotations

import logging

from langchain_core.messages import HumanMessage

from agents.analysis import Candidate
from agents.citations import Evidence, check_citations
from agents.extraction import PROSE, PROSE_CHARS, Extraction
from agents.llm import constrained, json_object, reply_text
from agents.planner import Masker
from prompts import render

log = logging.getLogger("devmesh.analysis")
REPLY_TOKENS = 512
SCHEMA = {"type": "object", "properties": {name: {"type": "string", "maxLength": PROSE_CHARS} for name in PROSE},
          "required": list(PROSE), "additionalProperties": False}


def prompt(extraction: Extraction, candidates: list[Candidate], window: str, mask: tuple[str, ...] = ()) -> str:
    masker = Masker(mask)
    ranked = "\n".join(f"- [template:{c.stat.template_id}] {c.stat.service} {c.stat.level} x{c.stat.count}"
                       f"{' new' if c.novel else ''}{' habitual' if c.habitual else ''}: {masker(c.stat.template[:300])}"
                       for c in candidates[:8]) or "(none: no warnings or errors)"
    sig = extraction.error_signature
    return render("extraction", window=window, severity=extraction.severity, component=extraction.component or "none",
                  signature=f"[template:{sig.template_id}] {masker(sig.text[:300])}" if sig else "none",
                  ranked=ranked, root_cause=masker(extraction.root_cause), action=masker(extraction.action),
                  summary=masker(extraction.summary))


def parse(text: str) -> dict | None:
    """The prose fields of a reply, or None when it is not one JSON object of strings."""
    found = json_object(text)
    if found is None:
        return None
    fields = {k: found.get(k) for k in PROSE}
    if not all(isinstance(v, str) and v.strip() for v in fields.values()):
        return None
    return {k: v.strip()[:PROSE_CHARS] for k, v in fields.items()}


def fill(llm, extraction: Extraction, candidates: list[Candidate], window: str, mask: tuple[str, ...] = ()
         ) -> tuple[Extraction, dict]:
    """(the extraction, what the LLM did: {status: ok|cut|invalid|error, unverified, ...})."""
    model = constrained(llm, SCHEMA, REPLY_TOKENS)
    try:
        text, cut = reply_text(model, [HumanMessage(prompt(extraction, candidates, window, mask))])
    except Exception as exc:  # noqa: BLE001 - the deterministic extraction stands on its own
        log.warning("the LLM could not write the extraction's prose: %s", exc)
        return extraction, {"status": "error", "detail": type(exc).__name__}
    fields = parse(text)
    if fields is None:
        return extraction, {"status": "cut" if cut else "invalid", "detail": "the reply was not the schema's JSON; "
                            "the deterministic prose stands"}
    evidence = Evidence(f"template:{c.stat.template_id}" for c in candidates)
    unverified: list[str] = []
    for name in PROSE:
        marked, found = check_citations(fields[name], evidence)
        fields[name] = marked[:PROSE_CHARS]
        unverified += found
    merged = Extraction.model_validate({**extraction.model_dump(), **fields})
    return merged, {"status": "ok", "unverified": list(dict.fromkeys(unverified)), "fields": list(PROSE)}
