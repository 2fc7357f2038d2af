"""Scenarios opened from outside (an alert, a person): the job is only to rank the cause.
Several have a root cause that logs no new error at all; two fleets are known only through
trace ids (their inventory has no edges); one service is missing from the inventory."""
from __future__ import annotations

import uuid

from evals.casegen.fleet import Fleet
from evals.casegen.scenarios import Scenario, burst


def slow_database(f: Fleet) -> None:
    burst(f, 0, 25, 3, "mariadb-vm", "mariadb.service", "info", lambda i:
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} 0 [Note] InnoDB: page_cleaner: 1000ms intended loop took "
          f"{6000 + 97 * i}ms. The settings might not be optimal.")
    burst(f, 0.5, 25, 6, "dev-services", "devmesh-api.service", "warning", lambda i:
          f"WARNING devmesh.db: slow query on /api/orders took {4.5 + (i % 30) / 10:.1f}s")
    burst(f, 3, 25, 5, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.db: query {i} failed: (2013, 'Lost connection to MySQL server during query')")


def network_delay(f: Fleet) -> None:
    burst(f, 0, 25, 2, "gpu-node-1", "ollama.service", "info", lambda i:
          f'[GIN] {f.at(0).strftime("%Y/%m/%d - %H:%M:%S")} | 200 | {25 + i % 9:10.6f}s |       10.0.0.30 | POST     '
          '"/api/chat"')
    f.silence("ollama.service@gpu-node-1", 0)      # its usual fast lines stop; the slow ones above remain
    burst(f, 1, 25, 6, "llm-gw", "litellm.service", "error", lambda i:
          f"litellm.exceptions.Timeout: OllamaException - Read timed out from http://10.0.0.41:11434/api/chat "
          f"after 30.0s request_id={i}")


def _traced(f: Fleet, start: float, end: float, rate: float, hops: list[tuple[str, str, str, str, float]]) -> None:
    """Requests through a chain of services, each line carrying the request's trace id.
    hops: (host, unit, level, message with {ms}, duration in ms) from the entry point down."""
    minute = start
    while minute < end:
        for _ in range(max(1, round(rate))):
            trace = uuid.UUID(int=f.rng.getrandbits(128)).hex
            t = minute + f.rng.random() * 0.8
            depth = len(hops)
            for k, (host, unit, _level, msg, _ms) in enumerate(hops):          # calls going down
                f.add(t + k * 0.001, host, unit, "info", msg.split("|")[0].format(ms=0).strip(), trace)
            elapsed = 0.0
            for k in range(depth - 1, -1, -1):                                  # answers coming back up
                host, unit, level, msg, ms = hops[k]
                elapsed += ms
                f.add(t + 0.002 * depth + elapsed / 60000, host, unit, level,
                      msg.split("|")[1].format(ms=round(elapsed)).strip(), trace)
        minute += 1


CHAIN_INVENTORY = """
# a shop known only through its trace ids: no dependencies written down
hosts:
  shop-1: {address: 10.2.0.11}
  pay-1: {address: 10.2.0.21}
  ledger-1: {address: 10.2.0.31}
  risk-1: {address: 10.2.0.41}
services:
  checkout: {type: api, hosts: [shop-1], units: [checkout.service]}
  payments: {type: api, hosts: [pay-1], units: [payments.service]}
  ledger: {type: database, hosts: [ledger-1], units: [ledger.service]}
  fraud-check: {type: api, hosts: [risk-1], units: [fraud-check.service]}
  kernel: {type: kernel, hosts: [shop-1, pay-1, ledger-1, risk-1]}
"""
NORMAL = [("shop-1", "checkout.service", "info", "POST /checkout received | POST /checkout 200 in {ms}ms", 12.0),
          ("pay-1", "payments.service", "info", "charge started | charge ok in {ms}ms", 20.0),
          ("risk-1", "fraud-check.service", "info", "score request | scored in {ms}ms", 8.0),
          ("ledger-1", "ledger.service", "info", "posting entry | posted entry in {ms}ms", 25.0)]


def shop_background(f: Fleet) -> None:
    _traced(f, -60, 0, 6, NORMAL)


def slow_ledger(f: Fleet) -> None:
    shop_background(f)
    _traced(f, 0, 25, 6, [
        ("shop-1", "checkout.service", "error", "POST /checkout received | POST /checkout 502 in {ms}ms", 12.0),
        ("pay-1", "payments.service", "error", "charge started | charge failed: upstream timed out after {ms}ms", 20.0),
        ("risk-1", "fraud-check.service", "info", "score request | scored in {ms}ms", 8.0),
        ("ledger-1", "ledger.service", "info", "posting entry | posted entry in {ms}ms", 5000.0)])


def failing_fraud_check(f: Fleet) -> None:
    shop_background(f)
    _traced(f, 0, 25, 6, [
        ("shop-1", "checkout.service", "error", "POST /checkout received | POST /checkout 500 in {ms}ms", 12.0),
        ("pay-1", "payments.service", "error", "charge started | charge failed: risk score unavailable after {ms}ms",
         20.0),
        ("risk-1", "fraud-check.service", "error", "score request | scoring failed: ValueError: model weights "
         "missing after {ms}ms", 8.0),
        ("ledger-1", "ledger.service", "info", "posting entry | posted entry in {ms}ms", 25.0)])


def short_history_db(f: Fleet) -> None:
    burst(f, 0, 25, 5, "mariadb-vm", "mariadb.service", "error", lambda i:
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} {i} [ERROR] mariadbd: Disk full (/var/lib/mysql/app/events.MAD); "
          "waiting for someone to free some space...")
    burst(f, 1, 25, 10, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.ingest: batch {i} failed: (1021, 'Disk full; waiting for someone to free some space')")


def unknown_service(f: Fleet) -> None:
    burst(f, -60, 0, 2, "dev-services", "search-indexer.service", "info", lambda i:
          f"indexed {100 + i % 50} documents in {40 + i % 20}ms")
    burst(f, 0, 25, 6, "dev-services", "search-indexer.service", "error", lambda i:
          f"panic: runtime error: index out of range [{i % 7}] with length 0 goroutine {i} [running]")
    burst(f, 1, 25, 8, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.search: search request {i} failed: HTTPConnectionPool(host='127.0.0.1', port=7700): "
          "Read timed out. (read timeout=10)")


TRIGGERED: list[Scenario] = [
    Scenario("The API feels slow this morning", ["hard", "slow-dependency"], slow_database,
             {"incident": True, "root_cause": {"service": "mariadb", "host": "mariadb-vm"}},
             trigger={"after": 6, "service": "devmesh-api"}),
    Scenario("Some chats take forever", ["hard", "network"], network_delay,
             {"incident": True, "root_cause": {"service": "ollama-gpu1", "host": "gpu-node-1"}},
             trigger={"after": 5}),
    Scenario("Checkouts failing", ["hard", "traces"], slow_ledger,
             {"incident": True, "root_cause": {"service": "ledger", "host": "ledger-1"}},
             trigger={"after": 4, "service": "checkout"}, inventory=CHAIN_INVENTORY, background=False),
    Scenario("Payments erroring since the top of the hour", ["medium", "traces"], failing_fraud_check,
             {"incident": True, "root_cause": {"service": "fraud-check", "host": "risk-1"}},
             trigger={"after": 3}, inventory=CHAIN_INVENTORY, background=False),
    Scenario("Ingest failing right after an upgrade", ["medium", "short-history"], short_history_db,
             {"incident": True, "root_cause": {"service": "mariadb", "host": "mariadb-vm"}},
             trigger={"after": 3, "service": "devmesh-api"}, history=8),
    Scenario("Search requests timing out", ["medium", "unmapped"], unknown_service,
             {"incident": True, "root_cause": {"service": "search-indexer.service", "host": "dev-services"}},
             trigger={"after": 4}),
]
