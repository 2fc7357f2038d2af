"""Is the model's reply an answer? Issue 23: a 0.5B model answered "what is causing the disk
errors?" with `[template:19868866175408]` alone, and "dashboards feel slow today, why?" with
four template lines quoted back. A reply says something only when one of its lines is
neither a bare citation nor text the tools returned; otherwise the answer is the
deterministic rendering of the same tool results, with a plain note that the model's reply
was not used. The model may add sentences; it never removes evidence."""
from __future__ import annotations

import json
import re

from agents.citations import CITE

NOT_USED = ("_The model's reply was not used: it only repeated ids or quoted lines the tools returned. "
            "Below is what the tools found, as DevMesh renders it without an LLM._")
_MARKS = re.compile(r"^[\s>*\-+•\d.)]*|[`\"“”'*_]")
_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_OWN_WORDS = 3             # a line with fewer words of its own ("see below", "Disk.") says nothing


def _norm(text: str) -> str:
    return " ".join(_MARKS.sub(" ", CITE.sub(" ", text)).lower().split()).strip(" :;,.")


def _texts(node, out: list[str]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _texts(value, out)
    elif isinstance(node, list):
        for value in node:
            _texts(value, out)
    elif isinstance(node, str):
        out.append(node)


def source_text(outputs: list[str], rendered: str = "") -> str:
    """Everything the tools returned, normalized: the strings in their JSON and the lines
    the synthesis step was shown."""
    found: list[str] = [rendered]
    for raw in outputs:
        try:
            _texts(json.loads(raw), found)
        except (json.JSONDecodeError, TypeError):
            found.append(str(raw))
    return "\n".join(_norm(line) for text in found for line in str(text).splitlines())


def says_something(reply: str, sources: str) -> bool:
    """True when a line of `reply` has words of its own: not only ids, not a line quoted back."""
    for line in (reply or "").splitlines():
        norm = _norm(line)
        if len(_WORD.findall(norm)) >= MIN_OWN_WORDS and norm not in sources:
            return True
    return False
