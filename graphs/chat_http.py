"""POST /chat (Server-Sent Events) and POST /analyze (the same run as one JSON).

Events, each one JSON `data:` line: route (first), tool (start/end), evidence, answer
(always), error, done (always last). A client that disconnects cancels the run.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from db import chat as chat_sql
from db import incidents as incident_sql
from graphs.chat import ChatContext, dumps, stream
from tools.catalog import ToolContext

router = APIRouter(tags=["chat"])
log = logging.getLogger("devmesh.chat")


class Question(BaseModel):
    question: str = Field(..., min_length=1, max_length=4000)
    thread_id: str | None = Field(None, max_length=64)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def context(request: Request) -> ChatContext:
    state = request.app.state

    def open_incident(service: str | None, start: datetime, end: datetime) -> int:
        with state.db.transaction() as cur:
            incident_id = incident_sql.open_incident(cur, f"asked in chat: {service or 'whole fleet'}", "manual",
                                                     "error", service, None, [service] if service else [],
                                                     start, end, _now())
        state.investigations.wake()
        return incident_id
    tools = ToolContext(state.db_ro, state.graph, state.embedder, state.embed_worker.table, _now,
                        tuple(state.settings.llm.mask_patterns))
    may_open = "admin" in getattr(request.state, "scopes", {"admin"})   # a read token only reads
    return ChatContext(tools, lambda: state.topology.inventory, open_incident if may_open else None, state.llm,
                       state.settings.llm.max_rounds, state.settings.llm.structured,
                       spans=getattr(state, "spans", None))


async def run(request: Request, body: Question):
    """Yield (event, data) for one question; persist the turn; error and done always come."""
    thread_id = body.thread_id or uuid.uuid4().hex
    started = time.perf_counter()
    db = request.app.state.db
    ctx = context(request)
    try:
        final = None
        async for event, data in stream(body.question, ctx, thread_id, request.app.state.chat_graph):
            if event == "_state":
                final = data
            else:
                yield event, data
        if final:
            await run_in_threadpool(chat_sql.add_turn, db, thread_id, body.question, final["route"],
                                    final["entities"], final["answer"])
    except (asyncio.CancelledError, GeneratorExit):
        ctx.cancelled.set()                    # the planner stops before its next model call
        log.info("chat run on thread %s cancelled: the client disconnected", thread_id)
        raise
    except Exception as exc:  # noqa: BLE001 - the client gets a code and a message, never a trace
        yield "error", {"code": type(exc).__name__, "message": f"the question could not be answered: {exc}"}
        yield "answer", {"markdown": "Something failed while answering; see the error event.", "citations": []}
    yield "done", {"thread_id": thread_id, "elapsed_ms": round((time.perf_counter() - started) * 1e3, 1)}


@router.post("/chat")
async def chat(request: Request, body: Question):
    async def events():
        async for event, data in run(request, body):
            yield {"event": event, "data": dumps(data)}
    return EventSourceResponse(events(), ping=15)


@router.post("/analyze")
async def analyze(request: Request, body: Question):
    out = {"events": []}
    async for event, data in run(request, body):
        out["events"].append({"event": event, "data": data})
        if event in ("route", "answer", "done"):
            out[event] = data
    return out


@router.get("/chat/threads/{thread_id}")
async def get_thread(request: Request, thread_id: str):
    return {"thread_id": thread_id, "turns": await run_in_threadpool(chat_sql.thread, request.app.state.db_ro,
                                                                      thread_id)}



