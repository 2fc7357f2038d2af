"""`devmesh bench ui`: how fast /ui paints with N events stored. A live server (its own
scratch database, 20 inventory services, events at 20 lines/s ending now) answers the
overview's API calls, timed from the client (p50/p95 over rounds); then headless Chromium
(evals/browser.py) loads /ui cold each round: first contentful paint, the load event, when
app.js arrived, when /stats/services was asked and answered, and the moment the services
table (the data) is on screen; then once more in the same browser (warm: files revalidated)."""
from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from db import scratch
from db.pool import Database
from db.settings import DBUrl
from evals.bench_search import _pct
from evals.live import LiveServer
from evals.workload import records
from ingest.pipeline import Ingestor

# what the overview asks on each refresh (ui/src/pages/overview.js)
CALLS = [("/stats/services", {"since": "3h", "step": "5m"}),
         ("/incidents", {"state": ["open", "acknowledged"], "limit": 50}), ("/info", {}), ("/health", {})]
SHOWN = """
const done = arguments[arguments.length - 1];
(function look() {
  if (document.querySelector('#services-table .service-row')) {
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    const rates = performance.getEntriesByType('resource').find((e) => e.name.includes('/stats/services'));
    const app = performance.getEntriesByType('resource').find((e) => e.name.includes('/ui/assets/app.js'));
    done({data: performance.now(), fcp: paint ? paint.startTime : null, load: nav ? nav.loadEventEnd : null,
          rates_start: rates ? rates.startTime : null, rates_end: rates ? rates.responseEnd : null,
          app_end: app ? app.responseEnd : null});
  } else requestAnimationFrame(look);
})();
"""


def _ingest(db: Database, events: int) -> float:
    start = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(milliseconds=50 * events)
    t0 = time.perf_counter()
    ingestor = Ingestor(db)
    for chunk in range(0, events, 100_000):        # bounded memory: 100k records at a time
        data = records(min(100_000, events - chunk), start=start + timedelta(milliseconds=50 * chunk), seed=chunk)
        for _ in ingestor.ingest_stream(data[i:i + 2000] for i in range(0, len(data), 2000)):
            pass
    return time.perf_counter() - t0


def _served(exposition: str, route: str) -> float | None:
    """Mean server time (ms) of `route`'s 200s over the whole run, from the server's own
    devmesh_http_request_seconds histogram (what the browser waited beyond that is the
    browser's and the network's)."""
    total = count = 0.0
    for line in exposition.splitlines():
        if f'route="{route}"' in line and 'status="200"' in line:
            if line.startswith("devmesh_http_request_seconds_sum"):
                total += float(line.rsplit(" ", 1)[1])
            elif line.startswith("devmesh_http_request_seconds_count"):
                count += float(line.rsplit(" ", 1)[1])
    return round(total / count * 1e3, 1) if count else None


def run(url: DBUrl, events: int = 1_000_000, rounds: int = 10) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    from evals.browser import chromium

    scratch_url = scratch.create_database(url, "benchui")
    db = Database(scratch_url)
    try:
        ingest_s = _ingest(db, events)
        with tempfile.TemporaryDirectory() as tmp:
            inventory = Path(tmp) / "inventory.yaml"
            inventory.write_text("services:\n" + "".join(f"  svc-{i}: {{hosts: [host-{i % 10}]}}\n" for i in range(20)))
            server = LiveServer(str(scratch_url), Path(tmp) / "server.log", env={"DEVMESH_INVENTORY": str(inventory)})
            server.start()
            api: dict[str, list[float]] = {path: [] for path, _ in CALLS}
            paints: dict[str, list[float]] = {"fcp_ms": [], "load_ms": [], "app_js_loaded_ms": [], "rates_asked_ms": [],
                                      "rates_answered_ms": [], "services_shown_ms": [], "warm_services_shown_ms": []}
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    for _ in range(rounds):
                        for path, params in CALLS:
                            t0 = time.perf_counter()
                            client.get(path, params=params).raise_for_status()
                            api[path].append((time.perf_counter() - t0) * 1e3)
                for r in range(rounds):                        # a fresh browser each round: a cold load
                    driver = chromium(Path(tmp) / f"profile-{r}")
                    try:
                        driver.set_script_timeout(60)
                        driver.get(f"{server.url}/ui")
                        seen = driver.execute_async_script(SHOWN)
                        WebDriverWait(driver, 5).until(lambda d: d.find_elements("css selector", "#services-table canvas"))
                        paints["fcp_ms"].append(seen["fcp"])
                        paints["load_ms"].append(seen["load"])
                        paints["services_shown_ms"].append(seen["data"])
                        paints["app_js_loaded_ms"].append(seen["app_end"])
                        paints["rates_asked_ms"].append(seen["rates_start"])
                        paints["rates_answered_ms"].append(seen["rates_end"])
                        driver.get(f"{server.url}/ui")                  # again: a warm browser, cached files
                        paints["warm_services_shown_ms"].append(driver.execute_async_script(SHOWN)["data"])
                    finally:
                        driver.quit()
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    served = _served(client.get("/metrics").text, "/stats/services")
            finally:
                server.stop()
    finally:
        db.close()
        scratch.drop_database(scratch_url)
    out = {"events": events, "ingest_s": round(ingest_s, 1), "rounds": rounds,
           "server_stats_services_ms_mean": served}
    for path, times in api.items():
        out[f"api{path.replace('/', '_')}_ms_p50"] = _pct(times, 50)
        out[f"api{path.replace('/', '_')}_ms_p95"] = _pct(times, 95)
    for name, values in paints.items():
        values = [v for v in values if v is not None]
        out[f"{name.removesuffix('_ms')}_ms_p50"] = _pct(values, 50) if values else None
        out[f"{name.removesuffix('_ms')}_ms_p95"] = _pct(values, 95) if values else None
    return out
