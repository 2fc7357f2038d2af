"""The Prometheus connector: for an incident's services and window, run configured PromQL
range queries and summarise them (min / max / mean, and the mean of the window before),
as evidence for the investigation. Prometheus down or slow never fails an investigation:
the connector says what failed and the report goes on without metrics.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)
_SAFE = re.compile(r"^[A-Za-z0-9_.:-]+$")           # a service name that can go into a PromQL string

# per inventory service type ("*" for every service); `{service}` is the service's name
DEFAULT_QUERIES: dict[str, dict[str, str]] = {
    "*": {"up": 'up{job="{service}"}',
          "cpu_seconds_rate": 'rate(process_cpu_seconds_total{job="{service}"}[2m])',
          "resident_memory_bytes": 'process_resident_memory_bytes{job="{service}"}',
          "restarts": 'changes(process_start_time_seconds{job="{service}"}[5m])'},
    "database": {"connections": 'mysql_global_status_threads_connected{job="{service}"}'},
}


class PrometheusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_PROMETHEUS_")

    url: str | None = None            # off unless set, e.g. http://prometheus:9090
    queries: Path | None = None       # YAML {type: {name: promql}}; default DEFAULT_QUERIES
    timeout_s: float = 5.0
    max_services: int = 5


def from_settings(settings) -> "Prometheus | None":
    """The client the server's investigations use, or None when no Prometheus is configured."""
    if not settings.url:
        return None
    return Prometheus(settings.url, load_queries(settings.queries), settings.timeout_s)


def load_queries(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return DEFAULT_QUERIES
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path}: expected {{service type: {{name: promql}}}}")
    return data


class Prometheus:
    def __init__(self, url: str, queries: dict[str, dict[str, str]] | None = None, timeout_s: float = 5.0,
                 client: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self.queries = queries or DEFAULT_QUERIES
        self.client = client or httpx.Client(timeout=timeout_s)

    def query_range(self, promql: str, start: datetime, end: datetime) -> list[float]:
        step = max(15, int((end - start).total_seconds() / 120))
        response = self.client.get(f"{self.url}/api/v1/query_range", params={
            "query": promql, "start": start.replace(tzinfo=timezone.utc).timestamp(),
            "end": end.replace(tzinfo=timezone.utc).timestamp(), "step": f"{step}s"})
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"{promql}: {body.get('errorType', response.status_code)} {body.get('error', '')}")
        return [float(v) for series in body["data"]["result"] for _, v in series["values"]
                if v not in ("NaN", "+Inf", "-Inf")]

    def snapshot(self, services: dict[str, str], start: datetime, end: datetime) -> tuple[list[dict], list[str]]:
        """services: name -> inventory type. (summaries, problems)."""
        rows, problems = [], []
        span = end - start
        for service, kind in services.items():
            if not _SAFE.match(service):
                continue
            for name, template in {**self.queries.get("*", {}), **self.queries.get(kind, {})}.items():
                promql = template.replace("{service}", service)
                try:
                    now = self.query_range(promql, start, end)
                    before = self.query_range(promql, start - span, start)
                except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                    problems.append(f"{service}/{name}: {exc}")
                    if isinstance(exc, httpx.HTTPError):
                        return rows, problems + ["Prometheus unreachable; no more queries"]
                    continue
                if not now:
                    continue
                mean = sum(now) / len(now)
                prev = sum(before) / len(before) if before else None
                rows.append({"service": service, "name": name, "query": promql, "window_start": start,
                             "window_end": end, "points": len(now), "min": min(now), "max": max(now), "mean": mean,
                             "prev_mean": prev, "change": (mean - prev) if prev is not None else None})
        return rows, problems
