"""inventory.yaml: the example validates; every kind of mistake is reported with its
position and a fix; records map to inventory services at ingest."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.inventory import InventoryError, load, parse
from ingest.pipeline import Ingestor
from ingest.service_map import ServiceMap
from tests.conftest import record

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_example_is_a_realistic_valid_fleet():
    inv = load(REPO / "inventory.yaml")
    types = {s.type for s in inv.services.values()}
    assert {"database", "api", "gateway", "llm", "monitoring"} <= types
    assert all("devmesh-shipper" in [s.name for s in inv.services.values() if h in s.hosts]
               for h in {h for s in inv.services.values() for h in s.hosts})       # a shipper on every host
    assert ("devmesh-api", "mariadb", "DEPENDS_ON") in {(e.source, e.target, e.type) for e in inv.all_edges()}


def problems(text: str) -> list[str]:
    with pytest.raises(InventoryError) as info:
        parse(text, "inv.yaml")
    for problem in info.value.problems:
        assert re.match(r"inv\.yaml:\d+:\d+: ", problem), problem
    return info.value.problems


def test_unknown_keys_name_the_position_and_suggest_the_fix():
    found = problems("services:\n  api:\n    dependson: [db]\n  db: {}\n")
    assert found == ["inv.yaml:3:5: services.api.dependson: unknown key; did you mean 'depends_on'?"]


def test_dangling_references_are_reported_everywhere_they_occur():
    found = problems("services:\n  api: {depends_on: [mariadbb]}\n  mariadb: {}\n"
                     "edges:\n  - {from: api, to: olama, type: CALLS}\n"
                     "runbooks:\n  - {id: r1, title: T, services: [ghost]}\n")
    assert any(p.startswith("inv.yaml:2:22: services.api.depends_on: unknown service 'mariadbb' (did you mean "
                            "'mariadb'?)") for p in found)
    assert any("edges[0].to: unknown service 'olama'" in p for p in found)
    assert any("runbooks[0].services: unknown service 'ghost'" in p for p in found)


def test_duplicate_names_are_not_silently_merged():
    found = problems("services:\n  api: {type: api}\n  api: {type: web}\n")
    assert found == ["inv.yaml:3:3: services.api: duplicate name (first at line 2); merge the two entries or "
                     "rename one"]
    found = problems("services:\n  a: {}\nrunbooks:\n  - {id: r, title: x}\n  - {id: r, title: y}\n")
    assert any("duplicate runbook id 'r'" in p for p in found)
    found = problems("services:\n  mariadb: {aliases: [db]}\n  db: {}\n")
    assert any("alias 'db' is already the name or an alias of 'db'" in p for p in found)


def test_other_mistakes():
    assert any("type must be one of DEPENDS_ON, CALLS" in p
               for p in problems("services: {a: {}, b: {}}\nedges:\n  - {from: a, to: b, type: USES}\n"))
    assert any("is not an IP address" in p for p in problems("hosts:\n  h1: {address: ten.0.0.1}\nservices: {}\n"))
    assert any("also claimed by 'a'" in p
               for p in problems("services:\n  a: {hosts: [h], units: [x.service]}\n  b: {hosts: [h], units: [x.service]}\n"))
    assert any("expected a whole number" in p for p in problems("services:\n  a: {ports: [http]}\n"))
    assert any("not valid YAML" in p for p in [str(e) for e in [InventoryError(["inv.yaml: not valid YAML: x"])]])


def test_service_map_prefers_the_records_host():
    inv = load(REPO / "inventory.yaml")
    services = ServiceMap(inv)
    assert services.resolve("gpu-node-2", "ollama.service") == "ollama-gpu2"
    assert services.resolve("gpu-node-1", "ollama.service") == "ollama-gpu1"
    assert services.resolve("anywhere", "mysqld") == "mariadb"
    assert services.resolve("anywhere", "MariaDB.service") == "mariadb"
    assert services.resolve("anywhere", "no-such-thing") is None


def test_ingest_maps_to_inventory_services_and_counts_the_unmapped(db):
    ingestor = Ingestor(db, services=ServiceMap(load(REPO / "inventory.yaml")))
    result = ingestor.ingest([record(1, host="mariadb-vm", service="mariadb.service"),
                              record(2, host="gpu-node-2", service="ollama.service"),
                              record(3, host="laptop", service="spotify"), record(4, host="laptop", service="spotify")])
    assert (result.accepted, result.unmapped) == (4, 2)
    rows = db.fetchall("SELECT service, meta_json FROM log_events ORDER BY id")
    assert [r[0] for r in rows] == ["mariadb", "ollama-gpu2", "spotify", "spotify"]
    assert json.loads(rows[0][1]) == {"raw_service": "mariadb.service"} and rows[2][1] is None
    assert ingestor.services.unmapped_summary() == {"records": 2, "services": [{"service": "spotify", "records": 2}]}
    # the hash uses the raw name: the same records under another inventory are still duplicates
    again = Ingestor(db, services=None).ingest([record(1, host="mariadb-vm", service="mariadb.service")])
    assert (again.accepted, again.duplicates) == (0, 1)
