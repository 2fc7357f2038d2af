"""The Prometheus connector against a real Prometheus (Debian's package) scraping DevMesh's
own /metrics; and an unreachable Prometheus never fails an investigation."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from db import graph as cypher
from db import incidents as incident_sql
from db import metrics_sql
from evals.live import LiveServer, free_port, wait_until
from graphs.investigate import Context, investigate
from ingest.pipeline import Ingestor
from retrieval.prometheus import Prometheus


@pytest.fixture
def prometheus(db_urls, tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make test` installs the Debian package"
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                      "scrape_configs:\n  - job_name: devmesh-api\n"
                      f"    static_configs: [{{targets: ['127.0.0.1:{live.port}']}}]\n")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "prometheus.log", "w"))
    url = f"http://127.0.0.1:{port}"

    def scraped() -> bool:
        try:
            body = httpx.get(f"{url}/api/v1/query", params={"query": 'up{job="devmesh-api"}'}, timeout=1).json()
            return bool(body["data"]["result"])
        except (httpx.HTTPError, KeyError, ValueError):
            return False
    try:
        wait_until(scraped, timeout_s=60, what="Prometheus scraping DevMesh")
        yield url, live
    finally:
        proc.terminate()
        proc.wait(10)
        live.stop()


def test_snapshots_from_a_real_prometheus(prometheus, db, graph):
    url, live = prometheus
    for i in range(3):
        httpx.post(f"{live.url}/ingest/logs", json={"logs": [{"timestamp": datetime.now(timezone.utc).isoformat(),
                                                               "host": "h", "service": "s", "message": f"x {i}"}]})
    wait_until(lambda: httpx.get(f"{url}/api/v1/query", params={      # a few scrapes of the counter
        "query": 'count_over_time(devmesh_ingest_records_total{outcome="accepted"}[1m]) >= 3'}).json()["data"]["result"],
        timeout_s=30, what="the ingest counter in Prometheus")
    end = datetime.now(timezone.utc).replace(tzinfo=None)
    client = Prometheus(url, {"*": {"up": 'up{job="{service}"}',
                                    "accepted": 'sum(devmesh_ingest_records_total{job="{service}",outcome="accepted"})',
                                    "broken": 'rate(up{job="{service}"}[1m'}})
    rows, problems = client.snapshot({"devmesh-api": "api"}, end - timedelta(minutes=1), end)
    by_name = {r["name"]: r for r in rows}
    assert by_name["up"]["max"] == 1.0 and by_name["up"]["points"] >= 1
    assert by_name["accepted"]["max"] >= 3
    assert any(p.startswith("devmesh-api/broken") for p in problems)               # a bad query is reported
    with db.transaction() as cur:
        incident_id = incident_sql.open_incident(cur, "t", "manual", "error", "devmesh-api", None, ["devmesh-api"],
                                                 end - timedelta(minutes=1), end, end)
    Ingestor(db).ingest([{"timestamp": (end - timedelta(seconds=30)).isoformat() + "Z", "host": "h",
                          "service": "devmesh-api", "level": "error", "message": "boom"}])
    cypher.sync_owned(graph, [], [{"name": "devmesh-api", "type": "api", "aliases": [], "units": [], "ports": []}],
                      [], [])
    state = investigate(incident_id, Context(db, graph, prometheus=client))
    assert {m["name"] for m in state["report"]["metrics"]["snapshots"]} >= {"up", "accepted"}
    assert "## Metrics (Prometheus)" in state["markdown"]
    assert {m["name"] for m in metrics_sql.for_incident(db, incident_id)} >= {"up", "accepted"}
    assert "HAS_METRIC" in cypher.incident_links(graph, incident_id)


def test_an_unreachable_prometheus_never_fails_an_investigation(db, graph):
    now = datetime(2026, 1, 20, 10, 0)
    Ingestor(db).ingest([{"timestamp": (now - timedelta(minutes=2)).isoformat() + "Z", "host": "h", "service": "api",
                          "level": "error", "message": "failed"}])
    with db.transaction() as cur:
        incident_id = incident_sql.open_incident(cur, "t", "manual", "error", "api", None, ["api"],
                                                 now - timedelta(minutes=5), now, now)
    started = time.monotonic()
    state = investigate(incident_id, Context(db, graph, prometheus=Prometheus(f"http://127.0.0.1:{free_port()}",
                                                                              timeout_s=1)))
    assert time.monotonic() - started < 10
    assert state["report"]["metrics"]["snapshots"] == []
    assert "unreachable" in json.dumps(state["report"]["metrics"]["problems"])
    assert incident_sql.get(db, incident_id)["status"] == "reported"
