"""OpenTelemetry spans from LangChain's callbacks: a LangGraph graph and each of its nodes,
every tool call and every chat-model call (model, tokens), nested as they ran.

One `SpanHandler` per process, built beside the tracer (db/tracing.py) and passed in the
config of every graph run and to the chat model's own callbacks (the same instance is
called once). A run's parent span is the span of its parent run; a run with no known
parent hangs on the current span (e.g. the worker's `investigation`). Chains that are not
a graph or one of its nodes get no span of their own: their children hang on their parent.
Attributes follow OpenTelemetry's GenAI conventions (gen_ai.*); prompts, replies and tool
outputs are never put on a span (they carry log text).
"""
from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

_MAX_RUNS = 10_000          # bounded: a run that never ends (a cancelled stream) is forgotten past this


class SpanHandler(BaseCallbackHandler):
    run_inline = True        # called in the run's own thread, in order, also under astream

    def __init__(self, tracer: Tracer):
        self.tracer = tracer
        self._runs: dict[UUID, tuple[Span, bool]] = {}      # run -> (its span or its parent's, owned?)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ bookkeeping

    def _parent(self, parent_run_id: UUID | None):
        with self._lock:
            found = self._runs.get(parent_run_id) if parent_run_id else None
        return trace.set_span_in_context(found[0]) if found else None      # None: the current context

    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, attributes: dict) -> None:
        with self._lock:
            if run_id in self._runs:
                return
        span = self.tracer.start_span(name, context=self._parent(parent_run_id), kind=trace.SpanKind.INTERNAL,
                                      attributes={k: v for k, v in attributes.items() if v is not None})
        with self._lock:
            if len(self._runs) >= _MAX_RUNS:
                self._runs.pop(next(iter(self._runs)))
            self._runs[run_id] = (span, True)

    def _through(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        """A run without a span of its own: its children hang on its parent's span."""
        with self._lock:
            found = self._runs.get(parent_run_id) if parent_run_id else None
            if found:
                self._runs[run_id] = (found[0], False)

    def _end(self, run_id: UUID, error: BaseException | None = None, attributes: dict | None = None) -> None:
        with self._lock:
            found = self._runs.pop(run_id, None)
        if not found or not found[1]:
            return
        span = found[0]
        for key, value in (attributes or {}).items():
            span.set_attribute(key, value)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.set_attribute("error.type", type(error).__name__)
        span.end()

    # ------------------------------------------------------------------ graphs and nodes

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None,
                       **kwargs: Any) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
        node = (metadata or {}).get("langgraph_node")
        if parent_run_id is None or parent_run_id not in self._runs:
            self._start(run_id, parent_run_id, f"graph {name}", {"langgraph.graph": name})
        elif node and node == name:
            self._start(run_id, parent_run_id, f"node {name}",
                        {"langgraph.node": name, "langgraph.step": (metadata or {}).get("langgraph_step")})
        else:
            self._through(run_id, parent_run_id)

    def on_chain_end(self, outputs, *, run_id, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error, *, run_id, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ------------------------------------------------------------------ tools

    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, **kwargs: Any) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        self._start(run_id, parent_run_id, f"execute_tool {name}",
                    {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name})

    def on_tool_end(self, output, *, run_id, **kwargs: Any) -> None:
        self._end(run_id)

    def on_tool_error(self, error, *, run_id, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ------------------------------------------------------------------ model calls

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, metadata=None,
                            **kwargs: Any) -> None:
        self._llm_start(serialized, run_id, parent_run_id, metadata)

    def on_llm_start(self, serialized, prompts, *, run_id, parent_run_id=None, metadata=None, **kwargs: Any) -> None:
        self._llm_start(serialized, run_id, parent_run_id, metadata)

    def _llm_start(self, serialized, run_id, parent_run_id, metadata) -> None:
        meta = metadata or {}
        model = meta.get("ls_model_name") or ((serialized or {}).get("kwargs") or {}).get("model") or "unknown"
        self._start(run_id, parent_run_id, f"chat {model}",
                    {"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                     "gen_ai.system": meta.get("ls_provider"), "gen_ai.request.max_tokens": meta.get("ls_max_tokens")})

    def on_llm_end(self, response, *, run_id, **kwargs: Any) -> None:
        tokens_in = tokens_out = 0
        model = None
        for generations in response.generations:
            for g in generations:
                message = getattr(g, "message", None)
                usage = getattr(message, "usage_metadata", None) or {}
                tokens_in += usage.get("input_tokens", 0)
                tokens_out += usage.get("output_tokens", 0)
                meta = getattr(message, "response_metadata", None) or {}
                model = model or meta.get("model") or meta.get("model_name")
        attributes = {"gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out}
        if model:
            attributes["gen_ai.response.model"] = model
        self._end(run_id, attributes=attributes)

    def on_llm_error(self, error, *, run_id, **kwargs: Any) -> None:
        self._end(run_id, error)


def run_config(handler: SpanHandler | None) -> dict:
    """The `config` that traces one graph run (empty without tracing)."""
    return {"callbacks": [handler]} if handler is not None else {}
