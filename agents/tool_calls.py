"""The one place an agent's tools are called, in both planner modes.

Each call is announced as it happens (DESIGN section 6): `start` before the tool runs, `end`
when it returns, with its real outcome (`ok`, `no_data`, `error`) and a summary; a call to a
tool that does not exist is `refused` and never runs. What the tools return is kept: the
raw outputs (for the synthesis step) and the ids they hold (for the citation check).

Only argument errors go back to the model (as LangGraph's ToolNode does); anything else, a
database outage say, is raised.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException
from pydantic import ValidationError

from agents.citations import Evidence
from agents.grounding import Grounding
from tools.lc import ID_KINDS

ToolEvent = dict          # {"id", "name", "args", "status": "start" | "end", "outcome"?, "summary"?}


def _summary(output: str) -> tuple[str, str]:
    """(outcome, summary) of a tool's JSON envelope."""
    try:
        envelope = json.loads(output)
    except (json.JSONDecodeError, TypeError):
        return "ok", "ok"
    if not isinstance(envelope, dict):
        return "ok", "ok"
    outcome = envelope.get("status") if envelope.get("status") in ("ok", "no_data", "error") else "ok"
    data = envelope.get("data")
    summary = outcome + (f", {len(data)} items" if isinstance(data, list) else "")
    if envelope.get("truncated"):
        summary += " (cut)"
    if outcome != "ok" and envelope.get("hint"):
        summary += f": {envelope['hint']}"
    return outcome, summary


@dataclass
class ToolCalls:
    """Runs one agent's tools and remembers what happened."""

    tools: list[BaseTool]
    on_event: Callable[[ToolEvent], None] | None = None
    evidence: Evidence = field(default_factory=Evidence)
    outputs: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)         # the calls that ran, in order
    refused: list[str] = field(default_factory=list)        # names of tools that do not exist
    grounding: Grounding | None = None                      # filters only from what the question names

    def __post_init__(self):
        self.by_name = {t.name: t for t in self.tools}

    def _emit(self, event: ToolEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def run(self, name: str, args: dict, call_id: str | None = None, recovered: bool = False) -> str:
        call_id = call_id or f"call-{len(self.calls) + len(self.refused) + 1}"
        tool = self.by_name.get(name)
        if tool is None:
            self.refused.append(name)
            hint = f"there is no tool named {name!r}; the tools are: {', '.join(self.by_name)}"
            self._emit({"id": call_id, "name": name, "args": args, "status": "end", "outcome": "refused",
                        "summary": hint})
            return json.dumps({"status": "error", "hint": hint})
        note = ""
        if self.grounding is not None:
            required = tool.tool_call_schema.model_json_schema().get("required", [])
            grounded, note = self.grounding.args(name, args, required)
            if grounded is None:                # it cannot run without the filter nobody gave
                self._emit({"id": call_id, "name": name, "args": args, "status": "end", "outcome": "refused",
                            "summary": note})
                return json.dumps({"status": "error", "hint": note})
            args = grounded
        self._emit({"id": call_id, "name": name, "args": args, "status": "start"})
        try:
            output = tool.invoke(args)
            outcome, summary = _summary(output)
        except (ValidationError, ToolException, TypeError) as exc:
            output = json.dumps({"status": "error", "hint": f"{name} failed on its arguments: {exc}"})
            outcome, summary = "error", f"error: bad arguments ({type(exc).__name__})"
        except Exception as exc:
            self._emit({"id": call_id, "name": name, "args": args, "status": "end", "outcome": "error",
                        "summary": f"failed: {type(exc).__name__}"})
            raise
        self.calls.append({"name": name, "args": args, **({"recovered": True} if recovered else {})})
        self.outputs.append(output)
        self.evidence.add_output(output, ID_KINDS.get(name))
        if recovered:
            summary += ", recovered from text"
        if note:
            summary += f" ({note})"
        self._emit({"id": call_id, "name": name, "args": args, "status": "end", "outcome": outcome,
                    "summary": summary})
        return output

    def message(self, call: dict, recovered: bool = False) -> ToolMessage:
        """Run a model's tool call (create_agent's ToolCallRequest.tool_call) as a ToolMessage."""
        output = self.run(call["name"], call.get("args") or {}, call.get("id"), recovered)
        failed = call["name"] not in self.by_name
        return ToolMessage(output, tool_call_id=call["id"], name=call["name"], status="error" if failed else "success")
