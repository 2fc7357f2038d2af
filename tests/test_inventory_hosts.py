"""Issue 24 (2): the inventory says what it cannot vouch for.

Bugs: a host typo in a service's `hosts` (`gpu-nod-1`) was accepted silently, so the service
sat on a host nothing else knew (no address, no co-hosted services, no host-level alerts);
and inventory.yaml pointed at runbook files that were not in the repository. Fix: with a
`hosts:` section, an undeclared host is a warning naming the service, the host and the fix,
shown in /health and /info (and by `devmesh load-inventory`); the runbooks ship in runbooks/.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

import server
from ingest.inventory import load, parse
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parent.parent
TYPO = """hosts:
  gpu-node-1: {address: 10.0.0.41}
  gpu-node-2: {address: 10.0.0.42}
services:
  ollama-gpu1: {type: llm, hosts: [gpu-node-1], units: [ollama.service]}
  ollama-gpu2: {type: llm, hosts: [gpu-nod-2], units: [ollama.service]}
"""


def test_an_undeclared_host_is_a_warning_naming_service_host_and_fix():
    inv = parse(TYPO, "inv.yaml")
    assert inv.services["ollama-gpu2"].hosts == ["gpu-nod-2"]           # kept: hosts are optional details
    assert len(inv.warnings) == 1
    warning = inv.warnings[0]
    assert warning.startswith("inv.yaml:6:")                              # file:line:col like every problem
    assert "services.ollama-gpu2.hosts" in warning and "unknown host 'gpu-nod-2'" in warning
    assert "did you mean 'gpu-node-2'?" in warning and "declare it" in warning


def test_no_hosts_section_means_hosts_are_implied_and_nothing_is_said():
    assert parse("services:\n  a: {hosts: [h1]}\n").warnings == []
    assert parse(TYPO.replace("gpu-nod-2", "gpu-node-2")).warnings == []
    assert load(REPO / "inventory.yaml").warnings == []


def test_health_and_info_show_the_warning_and_the_inventory_still_serves(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(TYPO)
    app = server.create_app(make_settings(db_urls, inventory))
    try:
        with TestClient(app) as c:
            health = c.get("/health").json()["dependencies"]["inventory"]
            assert health["status"] == "problems" and health["services"] == 2
            assert any("unknown host 'gpu-nod-2'" in p for p in health["problems"])
            assert any("gpu-nod-2" in p for p in c.get("/info").json()["inventory"]["problems"])
            assert {s["name"] for s in c.get("/graph/services").json()["services"]} == {"ollama-gpu1", "ollama-gpu2"}
            inventory.write_text(TYPO.replace("gpu-nod-2", "gpu-node-2"))
            assert c.post("/graph/reload").status_code == 200
            assert c.get("/health").json()["dependencies"]["inventory"]["problems"] == []
    finally:
        app.state.graph.drop()


def test_load_inventory_prints_the_warning(db_urls, tmp_path, services):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(TYPO)
    graph = f"devmesh_t_{db_urls[0].database}"
    out = subprocess.run([sys.executable, "-m", "server", "load-inventory", str(inventory)], capture_output=True,
                         text=True, cwd=REPO, timeout=120,
                         env={**os.environ, "DEVMESH_DB_URL": str(db_urls[0]), "DEVMESH_GRAPH_NAME": graph})
    try:
        assert out.returncode == 0, out.stderr
        assert "warning:" in out.stderr and "unknown host 'gpu-nod-2'" in out.stderr
    finally:
        from db.graph import Graph
        from db.settings import GraphSettings

        handle = Graph(GraphSettings().resolved_url(services), graph)
        handle.drop()
        handle.close()


def test_every_runbook_the_inventories_name_ships_with_steps_and_commands():
    paths = {r.path for f in (REPO / "inventory.yaml", REPO / "evals" / "inventory.yaml") for r in load(f).runbooks}
    assert paths == {"runbooks/disk-full.md", "runbooks/db-connections.md", "runbooks/gpu-down.md", "runbooks/oom.md"}
    for path in paths:
        text = (REPO / path).read_text()
        assert text.startswith("# ") and len(re.findall(r"^## \d\. ", text, re.M)) >= 3, path
        assert text.count("```sh") >= 2, path                           # commands to run, not prose only
