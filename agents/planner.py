"""The planner: a ReAct agent (langchain `create_agent`) on the chat model, built to survive
small models: at most `max_rounds` model calls with tools, tool calls written as text JSON
recovered, invented tool names mapped through an alias table (or refused), a separate
synthesis step when the loop ends without an answer, and every cited id checked against
what the tools returned. Secrets in tool output are masked before the model sees them.

`structured=True` is the mode for small local models (0.5B-3B): plan, execute, synthesize.
One reply held to a JSON schema lists up to `max_rounds` tool calls (an anyOf over the
tools, each with its own argument schema; `service` limited to the inventory's names), so
every call is valid; it is made from the question alone, so nothing a tool returns can
choose a tool (measured: a 0.5B model in a step-by-step loop followed an injected "call
get_incident" line; small models do not adapt to results anyway). The synthesis step reads
the results as one line per id and has no tools."""
from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Callable

from langchain.agents import create_agent
from langchain.agents.middleware import ModelCallLimitMiddleware, after_model, before_model, wrap_tool_call
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agents.answer_check import NOT_USED, says_something, source_text
from agents.citations import Evidence, check_citations, cite
from agents.grounding import Grounding
from agents.llm import bounded, constrained, reply_text
from agents.tool_calls import ToolCalls, ToolEvent
from prompts import render
from tools.catalog import ToolContext
from tools.lc import ALIASES, build

_SECRETS = [(re.compile(p, re.I), r) for p, r in (
    (r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", "[REDACTED]"),                                # e-mail addresses
    (r"(bearer )[A-Za-z0-9._~+/=-]{8,}", r"\1[REDACTED]"),                                # bearer tokens
    (r"((?:password|passwd|secret|token|api_key|apikey)\s*[=:]\s*)[^\s,;\"'\\]+", r"\1[REDACTED]"),
    (r"\bAKIA[0-9A-Z]{16}\b", "[REDACTED]"),                                              # AWS access keys
)]
log = logging.getLogger("devmesh.planner")
_FENCE = re.compile(r"^```(?:json)?|```$")
SYNTHESIS_TOKENS = 400                 # an answer of a few paragraphs; bounds a model that repeats itself


class RunCancelled(Exception):
    """The caller went away (a chat client disconnected): stop before the next model call."""


@dataclass
class PlannerResult:
    answer: str
    tool_calls: list[dict] = field(default_factory=list)
    redactions: int = 0
    unverified: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)     # tool names the model invented that map to nothing
    renamed: list[tuple[str, str]] = field(default_factory=list)   # invented name -> the tool it was mapped to
    dropped: list[tuple[str, str, str]] = field(default_factory=list)   # (tool, key, value): filters nobody asked for
    fell_back: bool = False          # the model's reply said nothing of its own: the tools' results were rendered


class Masker:
    """Redacts secrets (e-mails, bearer tokens, password=..., AWS keys) and the configured
    patterns (DEVMESH_LLM_MASK_PATTERNS); counts what it redacted."""

    def __init__(self, extra: tuple[str, ...] | list[str] = ()):
        self.count = 0
        self.rules = _SECRETS + [(re.compile(p), "[REDACTED]") for p in extra]

    def __call__(self, text: str) -> str:
        for pattern, replacement in self.rules:
            text, n = pattern.subn(replacement, text)
            self.count += n
        return text


def text_tool_call(content: str) -> tuple[str, dict] | None:
    """A tool call a small model wrote as JSON text: {"name": ..., "arguments": {...}} and kin,
    as the whole reply (a ```json fence allowed). JSON inside prose is not a call: an answer
    that quotes a log line holding a call-shaped object must not run it."""
    text = _FENCE.sub("", (content or "").strip()).strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("name") or data.get("tool") or data.get("function")
    args = data.get("arguments", data.get("parameters", data.get("args", {})))
    if isinstance(args, str):                       # arguments nested as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            args = {}
    return (name, args) if isinstance(name, str) and isinstance(args, dict) else None


def run(question: str, model, ctx: ToolContext, max_rounds: int = 3, services: list[str] | None = None,
        window: str | None = None, on_tool: Callable[[ToolEvent], None] | None = None, on_token=None,
        structured: bool = False, known_services: list[str] | None = None, tool_names: list[str] | None = None,
        system: str | None = None, known_evidence: Evidence | None = None, should_stop=None,
        grounding: Grounding | None = None, check_answer: bool = False) -> PlannerResult:
    """`on_tool(event)` hears each tool call as it happens (agents.tool_calls: start, then end
    with its outcome; refused calls too); `on_token(text)` receives the model's text as it
    streams (not its tool calls); `known_services` (the inventory's) are named in the prompt
    and, in structured mode, are the only values a `service` argument can take; `tool_names`
    is an agent's tool set and `system` its own prompt (the investigation agents), instead of
    the planner's; `known_evidence` holds ids that may be cited besides what the tools return;
    `should_stop()` true (the client left) raises RunCancelled before the next model call;
    with `grounding` (agents.grounding) a `service`/`host` argument the question does not
    name is dropped (or its call refused when it needs one), and in structured mode the plan's
    schema offers only the named services; `check_answer` replaces a reply that is only ids
    or quoted lines by the rendering of the tool results (agents.answer_check)."""
    masker = Masker(ctx.mask_patterns)
    stop = _stopper(should_stop)
    runner = ToolCalls(build(ctx, masker, tool_names), on_tool, grounding=grounding)
    if known_evidence is not None:
        runner.evidence.ids |= known_evidence.ids
    known = sorted(known_services or [])
    if structured:
        offered = grounding.services if grounding is not None else (known or None)
        return _run_structured(question, model, runner, masker, max_rounds, services, window, known, system, stop,
                               offered=offered, check_answer=check_answer)

    renamed: list[tuple[str, str]] = []
    from_text: set[str] = set()                            # ids of tool calls recovered from text

    @before_model(can_jump_to=["end"])
    def cancelled(_state, _runtime):
        stop()
        return None

    @after_model
    def repair_tool_calls(state, _runtime):
        """Inside the loop, so the agent goes on: a tool call written as text JSON becomes a
        real one, and an invented name goes to its alias (unknown ones are refused by the
        runner, which answers with the real names)."""
        last = state["messages"][-1]
        if not isinstance(last, AIMessage):
            return None
        calls, content = list(last.tool_calls or []), last.content
        if not calls and isinstance(content, str) and (found := text_tool_call(content)):
            call_id = f"text-{uuid.uuid4().hex[:12]}"
            from_text.add(call_id)
            calls, content = [{"name": found[0], "args": found[1], "id": call_id, "type": "tool_call"}], ""
        fixed = [{**c, "name": ALIASES.get(c["name"], c["name"]) if c["name"] not in runner.by_name else c["name"]}
                 for c in calls]
        renamed.extend((c["name"], f["name"]) for c, f in zip(calls, fixed) if c["name"] != f["name"])
        if fixed == list(last.tool_calls or []) and content == last.content:
            return None
        return {"messages": [last.model_copy(update={"tool_calls": fixed, "content": content})]}

    @wrap_tool_call
    def through_the_runner(request, _handler):
        """Every call, known or not, runs (or is refused) in the one place that announces it."""
        return runner.message(request.tool_call, recovered=request.tool_call.get("id") in from_text)
    prompt = system or render("planner", max_rounds=max_rounds, known=known, services=services or [], window=window)
    agent = create_agent(model, runner.tools, system_prompt=prompt,
                         middleware=[cancelled, ModelCallLimitMiddleware(run_limit=max_rounds, exit_behavior="end"),
                                     repair_tool_calls, through_the_runner])
    state: dict = {}
    for mode, chunk in agent.stream({"messages": [HumanMessage(question)]}, {"recursion_limit": 8 * (max_rounds + 2)},
                                    stream_mode=["messages", "values"]):
        if mode == "values":
            state = chunk
        elif on_token is not None:
            message, _meta = chunk
            if getattr(message, "type", "") == "AIMessageChunk" and isinstance(message.content, str) \
                    and message.content and not getattr(message, "tool_call_chunks", None):
                on_token(message.content)
    messages = state["messages"]
    final = next((m for m in reversed(messages) if isinstance(m, AIMessage) and not m.tool_calls), None)
    # the call-limit middleware ends the loop with a message of its own (no model metadata): not an answer
    answer = final.content if final is not None and final.response_metadata else ""
    if any(text_tool_call(line) for line in str(answer).splitlines()):
        answer = ""                     # a small model echoing calls and results is not an answer: synthesize
    result = _finish(question, model, answer, runner, masker, prompt, stop, check_answer)
    result.renamed = renamed
    result.dropped = list(grounding.dropped) if grounding is not None else []
    return result


def _stopper(should_stop):
    def stop() -> None:
        if should_stop is not None and should_stop():
            log.info("planner stopped before its next model call: the run was cancelled")
            raise RunCancelled("the run was cancelled")
    return stop


def _finish(question: str, model, answer: str, runner: ToolCalls, masker: Masker, system: str,
            stop=lambda: None, check_answer: bool = False) -> PlannerResult:
    """The answer (a synthesis from the tools' results when the loop wrote none), checked.
    `system` is the plan's own system prompt (without its tool listing), sent again first."""
    shown = digest(runner.outputs)[-12000:]
    if not answer.strip():                                     # a separate synthesis step
        stop()
        # the plan's system message again: the server reuses its cached prefix
        reply = bounded(model, SYNTHESIS_TOKENS).invoke([SystemMessage(system), HumanMessage(render(
            "synthesis", question=question, evidence=shown or "(nothing found)"))])
        answer = reply.content if isinstance(reply.content, str) else str(reply.content)
        if not answer.strip():
            answer = "The model wrote no answer from the evidence it gathered."
    fell_back = check_answer and bool(runner.outputs) and not says_something(answer, source_text(runner.outputs,
                                                                                                 shown))
    if fell_back:                                  # only ids, or lines quoted back: the tools' results instead
        answer = NOT_USED + "\n\n" + rendered_results(runner.calls, runner.outputs)
    answer, unverified = check_citations(answer, runner.evidence)
    result = PlannerResult(answer, runner.calls, masker.count, unverified, runner.refused)
    result.fell_back = fell_back
    return result


def rendered_results(calls: list[dict], outputs: list[str], per_call: int = 8) -> str:
    """The tools' results as DevMesh renders them without an LLM: each call with its
    arguments and outcome, then one line per cited id ("[template:ID] service level xN: text")."""
    blocks = []
    for call, raw in zip(calls, outputs):
        args = ", ".join(f"{k}={v}" for k, v in call["args"].items())
        try:
            envelope = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            envelope = {}
        status = envelope.get("status", "ok") if isinstance(envelope, dict) else "ok"
        head = f"**{call['name']}**({args}): {status}"
        if isinstance(envelope, dict) and envelope.get("hint"):
            head += f" ({str(envelope['hint']).splitlines()[0][:160]})"
        lines = [x for x in digest([raw], per_call).splitlines() if x.startswith("[")] if status == "ok" else []
        blocks.append("\n".join([head, *(f"- {x}" for x in lines)]))
    return "\n\n".join(blocks)


def digest(evidence: list[str], limit: int = 40) -> str:
    """Tool results as one line per cited thing ("[template:ID] service level xN: text"), which
    a small model can quote from; results without ids stay as (cut) JSON."""
    lines: list[str] = []

    def walk(node, depth=0):
        if isinstance(node, dict):
            ids = [cite("template", node["template_id"]) if node.get("template_id") else "",
                   cite("event", node["event_id"]) if node.get("event_id") else ""]
            if any(ids):
                service = node.get("service") or ", ".join(node.get("services") or [])
                count = node.get("count")
                text = node.get("message") or node.get("template") or ""
                lines.append(" ".join(x for x in (*ids, service, node.get("level") or "",
                                                  f"x{count}" if count else "") if x) + f": {str(text)[:200]}")
                return
            for value in node.values():
                walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node:
                walk(value, depth + 1)
    for raw in evidence:
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            lines.append(str(raw)[:400])
            continue
        before = len(lines)
        walk(parsed.get("data") if isinstance(parsed, dict) and "data" in parsed else parsed)
        if len(lines) == before:
            lines.append(raw[:800])
    return "\n".join(dict.fromkeys(lines[:limit]))


def step_schema(tools, known_services: list[str] | None = None) -> dict:
    """One tool call with its own arguments (anyOf over the tools). With `known_services`, a
    `service` argument can only name one of them (an empty list: none, it stays null)."""
    def prop(name: str, spec: dict) -> dict:
        spec = {k: v for k, v in spec.items() if k != "title"}
        if name == "service" and known_services is not None:
            return {"anyOf": [{"enum": known_services}, {"type": "null"}]} if known_services else {"type": "null"}
        return spec

    def arguments(t) -> dict:
        schema = t.tool_call_schema.model_json_schema()
        props = {k: prop(k, v) for k, v in schema.get("properties", {}).items()}
        return {"type": "object", "properties": props, "required": schema.get("required", []),
                "additionalProperties": False}
    def runnable(t) -> bool:           # a tool that needs a service has no branch when none may be named
        return known_services != [] or "service" not in t.tool_call_schema.model_json_schema().get("required", [])
    return {"anyOf": [{"type": "object", "properties": {"tool": {"const": t.name}, "args": arguments(t)},
                       "required": ["tool", "args"], "additionalProperties": False} for t in tools if runnable(t)]}


def plan_schema(tools, max_steps: int, known_services: list[str] | None = None) -> dict:
    """The whole plan at once: up to `max_steps` tool calls, decided before any of them runs."""
    return {"type": "object", "properties": {"steps": {"type": "array", "maxItems": max_steps,
                                                       "items": step_schema(tools, known_services)}},
            "required": ["steps"], "additionalProperties": False}


def _run_structured(question, model, runner: ToolCalls, masker, max_rounds, services, window, known, system=None,
                    stop=lambda: None, tokens_per_step: int = 96, offered: list[str] | None = None,
                    check_answer: bool = False) -> PlannerResult:
    """Plan, execute, synthesize. The plan is one schema-held reply made from the question
    alone, so nothing a tool returns (log text included) can choose a tool; the synthesis
    step reads the results and has no tools. `offered`: the services the schema allows."""
    planner = constrained(model, plan_schema(runner.tools, max_rounds, offered), tokens_per_step * max_rounds + 32)
    listing = "\n".join(f"- {t.name}({', '.join(t.args)}): {t.description}" for t in runner.tools)
    base = system or render("planner", max_rounds=max_rounds, known=known, services=services or [], window=window)
    prompt = render("planner_structured", max_rounds=max_rounds, tools=listing, base=base)
    messages = [SystemMessage(prompt), HumanMessage(question)]
    stop()
    content, _cut = reply_text(planner, messages)
    try:
        plan = json.loads(content)
    except json.JSONDecodeError:                          # cut off at its token bound: nothing to run
        plan = {}
    steps = plan.get("steps", []) if isinstance(plan, dict) else []
    seen: set[str] = set()
    for step in steps if isinstance(steps, list) else []:
        if len(runner.calls) >= max_rounds:
            break
        if not isinstance(step, dict) or not isinstance(step.get("tool"), str):
            continue
        name, args = step["tool"], step.get("args") or {}
        key = json.dumps([name, args], sort_keys=True)
        if key in seen:                                   # the same call twice gathers nothing new
            continue
        seen.add(key)
        runner.run(name, args if isinstance(args, dict) else {})
    result = _finish(question, model, "", runner, masker, base, stop, check_answer)
    result.dropped = list(runner.grounding.dropped) if runner.grounding is not None else []
    return result
