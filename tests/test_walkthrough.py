"""The day-one walk-through (issue 24): `devmesh demo` plays a disk-full outage, the fleet
goes quiet, then a GPU node fails (Xid on the node, Ollama CUDA errors, the gateway cannot
connect, the API answers 502). Played as the demo plays it and as the server runs it
(detector cycle every minute, every opened or re-queued incident investigated), on the
repository's inventory, the real pipeline, MariaDB and FalkorDB."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from db import incidents as incident_sql
from detectors.cycle import run_cycle
from detectors.settings import DetectorSettings
from evals.cases import discover
from evals.demo import schedule
from graphs.investigate import Context, investigate
from ingest.inventory import load
from ingest.merging import TemplateLearner
from ingest.normalize import parse_timestamp
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.topology import load_inventory

M = timedelta(minutes=1)
START = datetime(2026, 12, 2, 12, 0)
INVENTORY = Path(__file__).resolve().parent.parent / "inventory.yaml"


def gpu_outage(at: datetime) -> list[dict]:
    """Lines as each piece of software writes them; the other GPU node serves on."""
    out = []
    for k in range(8):
        for s in range(0, 60, 10):
            ts = at + k * M + timedelta(seconds=s)

            def rec(seconds: int, host: str, service: str, level: str, message: str) -> dict:
                return {"timestamp": (ts + timedelta(seconds=seconds)).isoformat() + "Z", "host": host,
                        "service": service, "level": level, "message": message}
            if k < 2 and s == 0:
                out.append(rec(0, "gpu-node-1", "kernel", "error", f"NVRM: Xid (PCI:0000:41:00): 79, pid={1200 + k}, "
                               "name=ollama, GPU has fallen off the bus."))
            else:
                out.append(rec(0, "gpu-node-1", "ollama.service", "error", "CUDA error: unspecified launch failure "
                               f"current device: 0, in function ggml_backend_cuda_synchronize at ggml-cuda.cu:{2400 + s}"))
            if k >= 1:
                out.append(rec(3, "llm-gw", "litellm.service", "error", "litellm.APIConnectionError: OllamaException - "
                               "Cannot connect to host 10.0.0.41:11434 ssl:default [Connect call failed "
                               f"('10.0.0.41', 11434)] request_id={k * 100 + s}"))
            if k >= 2:
                out.append(rec(5, "dev-services", "devmesh-api.service", "error",
                               f"POST /chat 502 upstream llm-gateway returned 502 Bad Gateway in {300 + s}ms"))
            out.append(rec(7, "gpu-node-2", "ollama.service", "info", f"[GIN] 2026/12/02 - 13:{k:02d}:{s:02d} | 200 | "
                           f"1.2{s // 10}s | 10.0.0.30 | POST \"/api/chat\""))
    return sorted(out, key=lambda r: r["timestamp"])


class Server:
    """What the server does, on a replay clock: ingest as lines arrive, learn templates,
    a detector cycle each minute, investigate what opened or was re-queued."""

    def __init__(self, db, graph):
        self.inventory = load(INVENTORY)
        self.services = ServiceMap(self.inventory)
        load_inventory(graph, self.inventory)
        self.db, self.graph = db, graph
        self.ingestor = Ingestor(db, services=self.services)
        self.opened: list[int] = []

    def ingest(self, records: list[dict]) -> None:
        for _ in self.ingestor.ingest_stream([records]):
            pass
        TemplateLearner(self.db, self.ingestor.merges).run()

    def minute(self, now: datetime) -> None:
        result = run_cycle(self.db, self.graph, DetectorSettings(), now, self.services.names())
        self.opened += result.opened
        while True:
            waiting = incident_sql.listing(self.db, ["open"])
            if not waiting:
                break
            for incident in waiting:
                investigate(incident["id"], Context(self.db, self.graph, inventory=lambda: self.inventory,
                                                    now=lambda: now))

    def play(self, records: list[dict], until: datetime, now: datetime) -> datetime:
        """Send each minute's lines, then run that minute's cycle, up to `until`."""
        while now <= until:
            self.ingest([r for r in records if now <= parse_timestamp(r["timestamp"]) < now + M])
            now += M
            self.minute(now)
        return now


@pytest.fixture
def walked(db, graph):
    case = next(c for c in discover(only="case-01"))
    server = Server(db, graph)
    history, fault = schedule(case, START, speed=25)
    server.ingest(history)
    end_of_demo = parse_timestamp(fault[-1]["timestamp"])
    now = server.play(fault, end_of_demo, START)
    demo = list(server.opened)
    now = server.play([], now + 3 * M, now)                   # the fleet goes quiet together
    quiet = server.opened[len(demo):]
    outage = gpu_outage(now)
    server.play(outage, parse_timestamp(outage[-1]["timestamp"]) + 5 * M, now)
    return {"demo": demo, "quiet": quiet, "gpu": server.opened[len(demo) + len(quiet):], "db": db}


def _report(db, incident_id: int) -> dict:
    return incident_sql.latest_report(db, incident_id)


def test_the_gpu_outage_after_the_demo_is_its_own_incident_naming_the_gpu_service(walked):
    db = walked["db"]
    assert len(walked["demo"]) == 1 and walked["quiet"] == []
    assert len(walked["gpu"]) == 1, [incident_sql.get(db, i)["title"] for i in walked["gpu"]]
    gpu = incident_sql.get(db, walked["gpu"][0])
    report = _report(db, gpu["id"])
    assert report["root_cause_service"] == "ollama-gpu1" and report["root_cause_host"] == "gpu-node-1"
    assert gpu["title"].endswith("on gpu-node-1 (ollama-gpu1)")
    assert {"llm-gateway", "devmesh-api"} <= set(gpu["services"])          # its symptoms folded in
    demo = incident_sql.get(db, walked["demo"][0])
    assert not {"ollama-gpu1", "kernel", "llm-gateway"} & set(demo["services"])
    assert _report(db, demo["id"])["root_cause_service"] == "mariadb"      # the old report stands


def test_the_demo_report_names_its_conclusion_and_where_the_evidence_was_seen(walked):
    db = walked["db"]
    incident = incident_sql.get(db, walked["demo"][0])
    report = _report(db, incident["id"])
    assert incident["title"] == "disk full on mariadb-vm (mariadb)"
    assert report["root_cause_host"] == "mariadb-vm"
    assert report["suggested_actions"][0].startswith("On mariadb-vm: ")
    assert "./ibdata1" in report["suggested_actions"][0]                  # the path the evidence names
    api = next(c for c in report["candidates"] if c["service"] == "devmesh-api")
    # devmesh-api quotes MariaDB's "No space left on device": relayed, not its host's disk
    assert not any("on its host dev-services" in r for r in api["reasons"])
    assert any(r.startswith("relays disk full from mariadb") for r in api["reasons"])
    for i in walked["demo"] + walked["gpu"]:
        for candidate in _report(db, i)["candidates"]:
            peaks = [r for r in candidate["reasons"] if re.search(r"errors peaked at 0/min", r)]
            assert peaks == [], (candidate["service"], peaks)
