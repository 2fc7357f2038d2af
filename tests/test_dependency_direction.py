"""Issue 24 (2): learned dependencies point from the client to the server.

Bug: retrieval/enrich.infer_edges read every address a line named as something its writer
depends on. Servers' access and firewall lines name their clients, so GPU nodes and the
kernel "depended on" the gateway that calls them. Fix: each mention gets a side
(retrieval/direction.py: URL, the word before it, an arrow, listening ports from the
inventory, served request lines, bare addresses in a listening writer's line); the
writer depends on servers, clients depend on the writer, the kernel only observes.
Each line below is checked both ways: the right edge is there, the backwards one is not.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from db import graph as cypher
from ingest.inventory import parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from retrieval.direction import CLIENT, SERVER
from retrieval.enrich import ReferenceMatcher, dependencies, infer_edges, refresh_inferred
from retrieval.topology import load_inventory

INVENTORY = parse("""
hosts:
  edge: {address: 10.2.0.10}
  app:  {address: 10.2.0.20}
  gw:   {address: 10.2.0.30}
  gpu1: {address: 10.2.0.41}
  db:   {address: 10.2.0.18}
  pg:   {address: 10.2.0.19}
  ops:  {address: 10.2.0.50}
services:
  nginx:       {type: proxy, hosts: [edge], units: [nginx.service], ports: [80, 443]}
  api:         {type: api, hosts: [app], units: [api.service], ports: [8000]}
  llm-gateway: {type: gateway, hosts: [gw], units: [litellm.service], ports: [4000]}
  ollama:      {type: llm, hosts: [gpu1], units: [ollama.service], ports: [11434]}
  mariadb:     {type: database, hosts: [db], units: [mariadb.service], ports: [3306]}
  postgres:    {type: database, hosts: [pg], units: [postgresql.service], ports: [5432]}
  backup:      {type: worker, hosts: [ops], units: [backup.service]}
  sshd:        {type: system, hosts: [edge, app, gw, gpu1, db, pg, ops], units: [ssh.service]}
  kernel:      {type: kernel, hosts: [edge, app, gw, gpu1, db, pg, ops]}
""")

# (host, writer, line, edges it shows, edges it must not show)
LINES = [
    ("edge", "nginx",
     '10.2.0.50 - - [20/Jan/2026:10:00:00 +0000] "GET /export/latest HTTP/1.1" 200 5120 "-" "backup-agent/2.1"',
     {("backup", "nginx")}, {("nginx", "backup")}),
    ("edge", "nginx",
     '2026/01/20 10:00:01 [error] 311#311: *7 upstream timed out (110: Connection timed out) while reading '
     'response header from upstream, client: 10.2.0.50, server: edge, request: "POST /v1/chat HTTP/1.1", '
     'upstream: "http://10.2.0.30:4000/v1/chat", host: "edge"',
     {("backup", "nginx"), ("nginx", "llm-gateway")}, {("nginx", "backup"), ("llm-gateway", "nginx")}),
    ("gpu1", "ollama",
     '[GIN] 2026/01/20 - 10:00:02 | 200 |  1.204531s |      10.2.0.30 | POST     "/api/chat"',
     {("llm-gateway", "ollama")}, {("ollama", "llm-gateway")}),
    ("gpu1", "kernel",
     "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=10.2.0.30 DST=10.2.0.41 "
     "LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=54321 DF PROTO=TCP SPT=52144 DPT=11434 WINDOW=64240 RES=0x00 SYN URGP=0",
     {("llm-gateway", "ollama")}, {("kernel", "llm-gateway"), ("ollama", "llm-gateway"), ("kernel", "ollama")}),
    ("db", "sshd", "Accepted publickey for deploy from 10.2.0.50 port 52144 ssh2: ED25519 SHA256:9f8e7d6c5b4a",
     set(), {("sshd", "backup"), ("backup", "sshd")}),
    ("app", "api", "psycopg.OperationalError: connecting to 10.2.0.19:5432 failed: Connection refused",
     {("api", "postgres")}, {("postgres", "api")}),
    ("pg", "postgres", "connection received: host=10.2.0.20 port=51234",
     {("api", "postgres")}, {("postgres", "api")}),
    ("db", "mariadb", "Aborted connection 42 to db: 'shop' user: 'shop' host: '10.2.0.20' (Got an error reading "
     "communication packets)", {("api", "mariadb")}, {("mariadb", "api")}),
    ("gw", "llm-gateway", "litellm.APIConnectionError: OllamaException - Cannot connect to host 10.2.0.41:11434 "
     "ssl:default [Connect call failed ('10.2.0.41', 11434)]", {("llm-gateway", "ollama")}, {("ollama", "llm-gateway")}),
    ("ops", "backup", "upload 10.2.0.50:40312 -> 10.2.0.10:443 reset by peer",
     {("backup", "nginx")}, {("nginx", "backup")}),
]


def shown(host: str, writer: str, line: str) -> set[tuple[str, str]]:
    matcher = ReferenceMatcher(INVENTORY)
    return {(a, b) for a, b, _, _ in dependencies(writer, INVENTORY.services[writer].type,
                                                    matcher.mentions(line, host, writer))}


@pytest.mark.parametrize("host,writer,line,right,wrong", LINES, ids=[f"{w}-{i}" for i, (_, w, *_r) in enumerate(LINES)])
def test_each_line_points_from_client_to_server(host, writer, line, right, wrong):
    edges = shown(host, writer, line)
    assert right <= edges, edges
    assert not (wrong & edges), edges


def test_sides_of_the_mentions():
    matcher = ReferenceMatcher(INVENTORY)
    sides = [(m.ref.service, m.role) for m in matcher.mentions(LINES[1][2], "edge", "nginx")]
    assert sides == [("backup", CLIENT), ("llm-gateway", SERVER)]       # "server: edge" and host: are nginx itself
    firewall = [(m.ref.service, m.ref.how, m.role) for m in matcher.mentions(LINES[3][2], "gpu1", "kernel")]
    assert firewall == [("llm-gateway", "host", CLIENT), ("ollama", "address+port", SERVER)]   # DPT joins DST


T0 = datetime(2026, 1, 20, 10, 0)


def test_inferred_edges_from_stored_lines_point_the_right_way(db, graph):
    """The same lines through the real pipeline, MariaDB and FalkorDB."""
    load_inventory(graph, INVENTORY)
    units = {"nginx": "nginx.service", "ollama": "ollama.service", "kernel": "kernel", "sshd": "sshd",
             "api": "api.service", "postgres": "postgresql.service", "mariadb": "mariadb.service", "llm-gateway": "litellm.service",
             "backup": "backup.service"}
    records = [{"timestamp": (T0 + timedelta(seconds=i)).isoformat() + "Z", "host": host, "service": units[writer],
                "level": "warning", "message": line} for i, (host, writer, line, _, _) in enumerate(LINES)]
    assert Ingestor(db, services=ServiceMap(INVENTORY)).ingest(records).accepted == len(LINES)
    edges = {(e["source"], e["target"]) for e in infer_edges(db, INVENTORY, T0 - timedelta(minutes=5),
                                                                T0 + timedelta(minutes=5))}
    right = set().union(*(r for *_, r, _ in LINES))
    wrong = set().union(*(w for *_, w in LINES))
    assert edges == right
    assert not edges & wrong
    refresh_inferred(db, graph, INVENTORY, T0 + timedelta(minutes=5), timedelta(minutes=10))
    assert cypher.upstream(graph, "ollama") == [] and cypher.upstream(graph, "kernel") == []
    assert ("ollama", 1) in cypher.upstream(graph, "llm-gateway")
    assert {s for s, _ in cypher.downstream(graph, "ollama")} == {"llm-gateway", "nginx", "backup"}
