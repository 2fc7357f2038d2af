"""DevMesh traces itself (issue 20): ingest batches, detector cycles and one investigation
(the graph, each node, each tool call, each LLM call with model and tokens) as OpenTelemetry
spans, trace ids on our log lines, and a real OTLP/HTTP export decoded from the wire."""
from __future__ import annotations

import asyncio
import gzip
import logging
import threading
import zlib
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import respx
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.llm import LLMSettings, build_chat_model
from agents.tracing import SpanHandler
from db.tracing import build_provider, enabled, tracer_of
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from evals.scenarios import CASCADE_INVENTORY, CASCADE_T0, cascade
from graphs.chat import ChatContext, stream as chat_stream
from graphs.investigate import Context, investigate
from graphs.terminal import TraceIds
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory
from tests.conftest import make_settings, record
from tests.test_planner import OLLAMA, call, ndjson
from tools.catalog import ToolContext

INVENTORY = parse(CASCADE_INVENTORY)
MODEL = "qwen2.5:7b-instruct"


@respx.mock
def test_one_investigation_is_one_trace_of_nodes_tools_and_llm_calls(db, graph):
    exporter = InMemorySpanExporter()
    provider = build_provider(exporter, batch=False)
    tracer = tracer_of(provider)
    spans_handler = SpanHandler(tracer)
    load_inventory(graph, INVENTORY)
    ingestor = Ingestor(db, services=ServiceMap(INVENTORY))
    ingestor.tracer = tracer
    ingestor.ingest(cascade())
    names = ServiceMap(INVENTORY).names()
    opened = []
    for minute in range(-1, 16):
        opened += run_cycle(db, graph, DetectorSettings(), CASCADE_T0 + timedelta(minutes=minute), names, tracer).opened

    batch = [s for s in exporter.get_finished_spans() if s.name == "ingest batch"]
    assert len(batch) == 1 and batch[0].attributes["devmesh.accepted"] == len(cascade()) > 0
    cycles = [s for s in exporter.get_finished_spans() if s.name == "detector cycle"]
    assert len(cycles) == 17 and sum(s.attributes["devmesh.opened"] for s in cycles) == len(opened) >= 1
    exporter.clear()

    respx.post(f"{OLLAMA}/api/chat").mock(side_effect=[
        ndjson(tool_calls=call("query_logs", service="mariadb", minutes=30)),     # the timeline agent uses a tool
        ndjson("mariadb failed first."),
        ndjson("mariadb's own log shows the fault."),                               # the root-cause agent
        ndjson("devmesh-api depends on it."),                                       # the impact agent
        ndjson("The database disk filled first."),                                  # the narrative
    ])
    llm = build_chat_model(LLMSettings(backend="ollama", url=OLLAMA, model=MODEL, timeout_s=5), [spans_handler])
    lines: list[logging.LogRecord] = []
    catcher = logging.Handler()
    catcher.emit = lines.append
    catcher.addFilter(TraceIds())
    logger = logging.getLogger("graphs.investigate")
    logger.addHandler(catcher)
    level = logger.level
    logger.setLevel(logging.INFO)          # setLevel, not `.level =`: it clears the enabled-for cache
    try:
        investigate(opened[0], Context(db, graph, llm=llm, tracer=tracer, spans=spans_handler))
    finally:
        logger.removeHandler(catcher)
        logger.setLevel(level)

    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    def parent(s):
        return by_id.get(s.parent.span_id) if s.parent else None

    def ancestors(s):
        out = []
        while (s := parent(s)) is not None:
            out.append(s.name)
        return out

    root = [s for s in spans if s.parent is None]
    assert [s.name for s in root] == ["investigation"] and root[0].attributes["devmesh.incident.id"] == opened[0]
    assert {s.context.trace_id for s in spans} == {root[0].context.trace_id}          # one trace
    graph_span = next(s for s in spans if s.name == "graph LangGraph")
    assert parent(graph_span) is root[0]
    nodes = [s for s in spans if s.name.startswith("node ") and parent(s) is graph_span]
    assert sorted(s.name for s in nodes) == sorted(f"node {n}" for n in (
        "context", "timeline", "root_cause", "impact", "agents", "report", "persist", "notify"))
    assert all(s.attributes["langgraph.node"] == s.name[5:] for s in nodes)

    tool = [s for s in spans if s.name.startswith("execute_tool")]
    assert [s.name for s in tool] == ["execute_tool query_logs"] and tool[0].attributes["gen_ai.tool.name"] == "query_logs"
    assert "node agents" in ancestors(tool[0])
    chats = [s for s in spans if s.name == f"chat {MODEL}"]
    assert len(chats) == 5
    for s in chats:
        assert s.attributes["gen_ai.request.model"] == MODEL and s.attributes["gen_ai.system"] == "ollama"
        assert (s.attributes["gen_ai.usage.input_tokens"], s.attributes["gen_ai.usage.output_tokens"]) == (412, 37)
    assert sum("node agents" in ancestors(s) for s in chats) == 4 and "node report" in ancestors(chats[-1])
    assert parent(tool[0]).start_time <= tool[0].start_time and tool[0].end_time <= parent(tool[0]).end_time

    written = [r for r in lines if "report" in r.getMessage() and "written" in r.getMessage()]
    assert written and written[0].trace_id == f"{root[0].context.trace_id:032x}"
    assert written[0].trace == f" trace_id={written[0].trace_id} span_id={written[0].span_id}"
    # a chat question on a deterministic route: the graph, its nodes and the tool calls they make
    exporter.clear()
    tools = ToolContext(db, graph, None, lambda: "", lambda: CASCADE_T0 + timedelta(minutes=16))

    async def ask():
        return [e async for e in chat_stream("errors of mariadb in the last 30 minutes",
                                             ChatContext(tools, lambda: INVENTORY, spans=spans_handler))]
    events = asyncio.run(ask())
    chat = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in chat}
    route = next(e for e in events if e[0] == "route")[1]["route"]
    called = [s for s in chat if s.name.startswith("execute_tool ")]
    assert called and all(by_id[s.parent.span_id].name == f"node {route}" for s in called)
    assert {e[1]["name"] for e in events if e[0] == "tool"} == {s.attributes["gen_ai.tool.name"] for s in called}
    assert [s.name for s in chat if s.parent is None] == ["graph LangGraph"]

    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "outside", None, None)
    TraceIds().filter(plain)
    assert plain.trace == "" and plain.trace_id == ""
    provider.shutdown()


class _Collector(BaseHTTPRequestHandler):
    """A local OTLP/HTTP endpoint: keeps each decoded ExportTraceServiceRequest."""

    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append((self.path, self.headers.get("Content-Type"), request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_server_exports_over_otlp_http_only_when_the_endpoint_is_set(db_urls, monkeypatch):
    assert not enabled({}) and not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})
    assert build_provider() is None or enabled()                         # off: no provider, the no-op tracer
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "devmesh-under-test")
        import server

        app = server.create_app(make_settings(db_urls))
        with TestClient(app) as c:
            answer = c.post("/ingest/logs", json={"logs": [record(i) for i in range(3)]}).json()
            assert answer["accepted"] == 3
            app.state.graph.drop()
        # leaving the lifespan shut the provider down, which flushed the batch processor
    finally:
        collector.shutdown()
        collector.server_close()
    assert _Collector.received, "nothing was exported"
    path, content_type, _ = _Collector.received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    found = []
    for _path, _type, request in _Collector.received:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    found.append((resource, scope.scope.name, span))
    batches = [(r, name, s) for r, name, s in found if s.name == "ingest batch"]
    assert len(batches) == 1
    resource, scope_name, span = batches[0]
    assert resource["service.name"] == "devmesh-under-test" and scope_name == "devmesh"
    attributes = {a.key: a.value.int_value for a in span.attributes}
    assert attributes["devmesh.records"] == 3 and attributes["devmesh.accepted"] == 3
    assert len(span.trace_id) == 16 and len(span.span_id) == 8 and span.end_time_unix_nano >= span.start_time_unix_nano

