"""The one citation format, `[kind:id]`, and its check: an id counts as verified only when a
tool (or the analysis an agent was handed) returned that id as that kind.

Before issue 14 an id was "verified" when its digits occurred anywhere in the tool output,
so a port (`[template:3306]`), a year (`[event:2026]`), a count or a minute passed. Now the
ids are read from the structure of what the tools returned, by the keys that hold them
(`template_id`, `event_id`, ...), never from free text.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

KINDS = ("template", "event", "incident", "runbook")
# a runbook section is `[runbook:ID#SECTION]` (issue 21); only runbooks carry a `#part`
CITE = re.compile(r"\[(template|event|incident|runbook):([A-Za-z0-9][A-Za-z0-9_.-]*(?:#[A-Za-z0-9][A-Za-z0-9_.-]*)?)\]")

# keys whose value is one id of a kind, or a list of them
_ONE = {"template_id": "template", "event_id": "event", "example_event_id": "event", "incident_id": "incident",
        "runbook_id": "runbook", "runbook_section": "runbook"}
_MANY = {"template_ids": "template", "evidence_template_ids": "template", "event_ids": "event",
         "example_event_ids": "event"}


def cite(kind: str, value) -> str:
    """The citation of one id: `[template:123]`."""
    return f"[{kind}:{value}]"


def cited_ids(text: str) -> list[str]:
    """The ids `text` cites, as "kind:ID", in order, once each."""
    return list(dict.fromkeys(f"{kind}:{value}" for kind, value in CITE.findall(text or "")))


class Evidence:
    """The ids that may be cited: what the tools returned, kind by kind."""

    def __init__(self, ids: Iterable[str] = ()):
        self.ids: set[str] = set(ids)

    def __contains__(self, cited: str) -> bool:
        return cited in self.ids

    def add(self, kind: str, value: Any) -> None:
        if kind != "runbook" and isinstance(value, str) and "#" in value:
            return                                          # only a runbook id carries a section
        if kind in KINDS and isinstance(value, (int, str)) and not isinstance(value, bool) and str(value):
            self.ids.add(f"{kind}:{value}")

    def add_data(self, data: Any, id_kind: str | None = None) -> "Evidence":
        """Collect the ids in a tool's data (or a report): by the keys that hold them, at any
        depth; a bare `id` only where the caller says what its rows are (`id_kind`: the
        incidents of get_incident / latest_incidents, the runbooks of find_runbooks)."""
        def walk(node: Any, row_level: bool) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in _ONE:
                        self.add(_ONE[key], value)
                    elif key in _MANY and isinstance(value, dict):        # {template id: [event ids]}
                        for template_id, events in value.items():
                            self.add("template", template_id)
                            for event_id in events if isinstance(events, list) else []:
                                self.add(_MANY[key], event_id)
                    elif key in _MANY and isinstance(value, list):
                        for item in value:
                            self.add(_MANY[key], item)
                    elif key == "id" and row_level and id_kind:
                        self.add(id_kind, value)
                    else:
                        walk(value, False)
            elif isinstance(node, list):
                for item in node:
                    walk(item, row_level)
        walk(data, True)
        return self

    def add_output(self, text: str, id_kind: str | None = None) -> "Evidence":
        """A tool's JSON output (the ToolResult envelope): the ids in its `data`."""
        try:
            parsed = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            return self
        if isinstance(parsed, dict) and "data" in parsed:
            self.add_data(parsed["data"], id_kind)
        return self


def check_citations(answer: str, evidence: Evidence) -> tuple[str, list[str]]:
    """Mark every cited id that is not in `evidence` as "(unverified)"; returns the text and
    those ids."""
    unverified: list[str] = []

    def mark(m: re.Match) -> str:
        cited = f"{m.group(1)}:{m.group(2)}"
        if cited in evidence:
            return m.group(0)
        unverified.append(cited)
        return f"[{cited} (unverified)]"
    return CITE.sub(mark, answer or ""), list(dict.fromkeys(unverified))


def verified(text: str, unverified: list[str]) -> list[str]:
    """The ids `text` cites that passed the check."""
    return [c for c in cited_ids(text) if c not in unverified]
