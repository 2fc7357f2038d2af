"""Issue 21: a runbook that names a service is retrieved for that service's incident, its
steps listed beside the report's own actions, and cited, verified, in the chat."""
from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

import server
from evals.scenarios import CASCADE_INVENTORY, cascade
from graphs.investigate import Context, investigate
from graphs.worker import InvestigationSettings
from ingest.templates import template_of
from retrieval.runbooks import ingest_dir
from tests.conftest import make_settings, replay_cascade_cycles

REPO_RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
GATEWAY = """---
services: [gateway]
---
# Gateway returns 504

## 1. Check the upstream pool
"""

TABLESPACE = """# InnoDB cannot write its tablespace

## 1. Check the tablespace

```
[ERROR] InnoDB: Write to file ./ibdata1 failed at offset 16384: No space left on device
```
"""                                       # names no service: only the template it quotes links it


def test_the_incidents_runbook_is_retrieved_listed_and_cited(db_urls, tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(CASCADE_INVENTORY)
    books = tmp_path / "runbooks"
    shutil.copytree(REPO_RUNBOOKS, books)
    (books / "gateway.md").write_text(GATEWAY)
    (books / "tablespace.md").write_text(TABLESPACE)
    app = server.create_app(make_settings(db_urls, inventory=inventory,
                                          investigate=InvestigationSettings(workers=0)))   # investigated here
    with TestClient(app) as client:
        state = app.state
        try:
            summary = ingest_dir(state.db, state.graph, state.embedder, books, state.topology.inventory)
            assert summary.errors == [] and "disk-full" in summary.added
            state.ingestor.ingest(cascade())
            state.runbook_follower.run()      # what the server's periodic run does: links the templates just seen
            opened = replay_cascade_cycles(state.db, state.graph, state.ingestor.services.names())
            report = investigate(opened[0], Context(state.db, state.graph, embedder=state.embedder))["report"]
            assert report["root_cause_service"] == "mariadb"
            steps = report["runbook_steps"]
            assert steps["runbook_id"] == "disk-full"
            first = "disk-full#1-find-the-full-filesystem-and-what-filled-it"
            assert steps["steps"][0]["runbook_section"] == first
            assert any(s["runbook_id"] == "gateway" for s in report["runbook_sections"])   # the impacted one's
            quoted = [s for s in report["runbook_sections"] if s["runbook_id"] == "tablespace"]
            assert quoted and quoted[0]["section"] == "1-check-the-tablespace"     # through its template's link
            assert any("names the incident's template" in r for r in quoted[0]["reasons"])
            markdown = client.get(f"/incidents/{opened[0]}").json()["report"]["markdown"]
            assert f"1. 1. Find the full filesystem and what filled it [runbook:{first}]" in markdown
            actions = client.get(f"/incidents/{opened[0]}/postmortem").text.split("## Action items")[1]
            assert f"[runbook:{first}]" in actions and "- [ ] Runbook Disk full on a database host, step 1:" in actions
            run = client.post("/analyze", json={"question": f"what about incident {opened[0]}?"}).json()
            answer = next(e["data"] for e in run["events"] if e["event"] == "answer")
            assert f"runbook:{first}" in answer["citations"]
            assert f"[runbook:{first}]" in answer["markdown"] and "unverified" not in answer["markdown"]
            listed = client.get("/runbooks").json()["runbooks"]
            assert {d["id"] for d in listed} == {"db-connections", "disk-full", "gateway", "gpu-down", "oom",
                                                "tablespace"}
            doc = client.get("/runbooks/disk-full").json()
            assert doc["sections"][1]["section"] == "1-find-the-full-filesystem-and-what-filled-it"
            missing = client.get("/runbooks/no-such-book")
            assert missing.status_code == 404 and "GET /runbooks" in missing.json()["error"]["message"]
            assert client.get("/runbooks/bad%20id").status_code == 404
            hits = client.get("/search/runbooks", params={"q": "gateway timeouts", "service": "gateway"}).json()
            assert hits["sections"][0]["runbook_section"] == "gateway#gateway-returns-504"
            innodb = template_of("[ERROR] InnoDB: Write to file ./ibdata1 failed at offset 0: No space left on device")[0]
            by_template = client.get("/search/runbooks", params={"template": innodb, "k": 50}).json()["sections"]
            assert "tablespace#1-check-the-tablespace" in [h["runbook_section"] for h in by_template]
            assert all(h["components"]["template"] > 0 for h in by_template)        # nothing else asked
            assert client.get("/search/runbooks", params={"template": "x"}).status_code == 422
            assert client.get("/search/runbooks", params={"template": [-1, 2 ** 70]}).json() == {"sections": []}
        finally:
            state.graph.drop()
