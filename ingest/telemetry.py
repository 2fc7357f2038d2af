"""DevMesh's own metrics (Prometheus exposition at GET /metrics), one registry per app."""
from __future__ import annotations

import logging
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)


class _Gauges:
    """Gauges read when scraped (cheap queries); a failing source is skipped, not fatal."""

    def __init__(self, sources: dict[str, tuple[str, Callable[[], dict[tuple, float] | float]]]):
        self.sources = sources

    def collect(self):
        for name, (help_text, read) in self.sources.items():
            try:
                value = read()
            except Exception as exc:  # noqa: BLE001 - one broken source must not break the scrape
                log.debug("metric %s unavailable: %s", name, exc)
                continue
            if isinstance(value, dict):
                labels = sorted({k for key in value for k, _ in key})
                family = GaugeMetricFamily(name, help_text, labels=labels)
                for key, v in value.items():
                    family.add_metric([dict(key).get(label, "") for label in labels], v)
            else:
                family = GaugeMetricFamily(name, help_text, value=value)
            yield family


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.records = Counter("devmesh_ingest_records", "Ingested records by outcome and source",
                               ["outcome", "source"], registry=self.registry)
        self.rejects = Counter("devmesh_ingest_rejects", "Rejected records or streams by reason",
                               ["reason"], registry=self.registry)
        self.cycle = Histogram("devmesh_detector_cycle_seconds", "Detector cycle duration", registry=self.registry,
                               buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.cycles = Counter("devmesh_detector_cycles", "Detector cycles by outcome: ran (this server leads), "
                              "skipped (another holds the lock or lease), failed", ["outcome"], registry=self.registry)
        self.investigation = Histogram("devmesh_investigation_seconds", "Investigation duration",
                                       registry=self.registry, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 3, 10, 30))
        self.llm_calls = Counter("devmesh_llm_calls", "LLM calls by model and outcome", ["model", "outcome"],
                                 registry=self.registry)
        self.llm_tokens = Counter("devmesh_llm_tokens", "LLM tokens by model, input or output", ["model", "kind"],
                                  registry=self.registry)
        self.llm_seconds = Histogram("devmesh_llm_call_seconds", "LLM call duration by model", ["model"],
                                     registry=self.registry, buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.http = Histogram("devmesh_http_request_seconds", "HTTP request duration", ["route", "method", "status"],
                              registry=self.registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))

    def llm_observed(self, model: str, seconds: float, ok: bool, input_tokens: int, output_tokens: int) -> None:
        self.llm_calls.labels(model, "ok" if ok else "error").inc()
        self.llm_seconds.labels(model).observe(seconds)
        self.llm_tokens.labels(model, "input").inc(input_tokens)
        self.llm_tokens.labels(model, "output").inc(output_tokens)

    def ingested(self, source: str, result) -> None:
        self.records.labels("accepted", source).inc(result.accepted)
        self.records.labels("duplicate", source).inc(result.duplicates)
        self.records.labels("rejected", source).inc(len(result.rejected))
        for rejected in result.rejected:
            self.rejects.labels(rejected["error"].split(":", 1)[0][:40]).inc()

    def rejected(self, reason: str, n: int = 1) -> None:
        self.rejects.labels(reason).inc(n)

    def gauges(self, sources: dict) -> None:
        self.registry.register(_Gauges(sources))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
