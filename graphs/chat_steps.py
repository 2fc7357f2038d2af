"""What every chat handler shares: the stream writer, an announced (and traced) tool call, the thread's
entities, evidence events and the deterministic answer; and the rendering of error lines,
which several routes end with."""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TypedDict

from langchain_core.runnables.config import get_callback_manager_for_config
from langgraph.config import get_config, get_stream_writer

from agents.scope import SEVERE
from graphs.chat_router import Entities
from tools import catalog
from tools.catalog import ToolContext
from tools.results import ToolResult

NO_LLM = "_No LLM wrote this answer: it comes from DevMesh's deterministic handlers and cites what it read._"


class ChatState(TypedDict, total=False):
    question: str
    route: str
    entities: dict
    answer: str
    citations: list[str]


def emit(event: str, data: dict) -> None:
    get_stream_writer()({"event": event, "data": data})


def call(name: str, fn, ctx: ToolContext, **args) -> ToolResult:
    """A deterministic handler's tool call, announced as the planner's are (agents.tool_calls)."""
    shown = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in args.items()}
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    emit("tool", {"id": call_id, "name": name, "args": shown, "status": "start"})
    run = _tool_run(name, shown)
    try:
        result = fn(ctx, **args)
    except BaseException as exc:
        if run is not None:
            run.on_tool_error(exc)
        raise
    summary = f"{result.status}" + (f", {len(result.data)} items" if isinstance(result.data, list) else "")
    if run is not None:
        run.on_tool_end(summary)
    emit("tool", {"id": call_id, "name": name, "args": shown, "status": "end", "outcome": result.status,
                  "summary": summary + (" (cut)" if result.truncated else "")})
    return result


def _tool_run(name: str, shown: dict):
    """The call as a tool run of the node's callbacks (a span under the node when tracing:
    agents/tracing.SpanHandler), or None outside a graph run or without callbacks."""
    try:
        config = get_config()
    except RuntimeError:
        return None
    if not config.get("callbacks"):
        return None
    return get_callback_manager_for_config(config).on_tool_start({"name": name}, json.dumps(shown, default=str),
                                                                name=name)


def entities(state: ChatState) -> Entities:
    e = state["entities"]
    out = Entities(e["services"], e["hosts"], None, None, e["window"]["text"], e["incident_id"], e["quoted"])
    out.since = datetime.fromisoformat(e["window"]["since"].rstrip("Z")) if e["window"]["since"] else None
    out.until = datetime.fromisoformat(e["window"]["until"].rstrip("Z")) if e["window"]["until"] else None
    return out


def evidence_templates(rows: list[dict]) -> list[str]:
    items = [{"kind": "template", "id": f"template:{r['template_id']}", "text": r.get("template"),
              "count": r.get("count")} for r in rows if r.get("template_id")]
    if items:
        emit("evidence", {"items": items})
    return [i["id"] for i in items]


def answer(lines: list[str], citations: list[str]) -> dict:
    text = "\n".join([*lines, "", NO_LLM])
    return {"answer": text, "citations": list(dict.fromkeys(citations))}


def error_lines(ctx: ToolContext, service: str | None, host: str | None, since: datetime | None,
                until: datetime | None, heading: str | None = None) -> tuple[list[str], list[str]]:
    """Error lines in a window grouped by template, most frequent first: (lines, citations)."""
    r = call("query_logs", catalog.query_logs, ctx, service=service, host=host, level=list(SEVERE), since=since,
             until=until, limit=50)
    if r.status != "ok":
        return [f"{heading}: no error lines ({r.hint})." if heading else f"No errors found ({r.hint})."], []
    groups: dict[int, list[dict]] = {}
    for row in r.data:
        groups.setdefault(row["template_id"], []).append(row)
    lines = [(f"{heading}: " if heading else "") + f"{len(r.data)} error line{'s' * (len(r.data) != 1)}"
             f"{' (more not shown)' if r.truncated else ''}, {len(groups)} kind{'s' * (len(groups) != 1)}:"]
    cites = []
    for template_id, rows in sorted(groups.items(), key=lambda x: -len(x[1]))[:6]:
        first = rows[0]
        lines.append(f"- [template:{template_id}] x{len(rows)} on {first['service']}: {first['message'][:160]} "
                     f"(e.g. [event:{first['event_id']}] at {first['ts']})")
        cites += [f"template:{template_id}", f"event:{first['event_id']}"]
    emit("evidence", {"items": [{"kind": "event", "id": f"event:{rows[0]['event_id']}", "text": rows[0]["message"],
                                 "count": len(rows)} for rows in groups.values()][:6]})
    return lines, cites
