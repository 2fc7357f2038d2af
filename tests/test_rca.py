"""Issue 19, RCA in the code: a real captured traceback (evals/exceptions/programs/ledger, a
guard that raises three frames above the function that made the bad amount) ingested into
the real MariaDB, its code indexed; the RCA JSON validates, blames the function that made
the value (not the topmost frame), cites only stored event ids, masks what it quotes, is
cached per (cluster, version); an LLM may only pick among the candidates."""
from __future__ import annotations

import json
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agents.rca import RcaResult, build, score
from agents.rca_flow import facts
from agents.rca_params import extract
from agents.rca_cluster import failure_of_event
from agents.rca_run import Failure, rca_for
from db import code_index as code_sql
from db import exception_reads
from db.events import EventFilter, scan
from ingest.code_index import index_checkout
from ingest.embedders import HashingEmbedder
from ingest.pipeline import Ingestor
from retrieval.rca_inputs import RcaView

EXC = Path(__file__).resolve().parent.parent / "evals" / "exceptions"


def _ledger_failure(db) -> tuple[Failure, set[int]]:
    runs = json.loads((EXC / "captured" / "runs.json").read_text())["ledger"]
    records = [json.loads(line) for line in (EXC / "captured" / "ledger.jsonl").read_text().splitlines()]
    first, last = runs[0]["records"]
    run = records[first:last]
    run.append({**run[0], "timestamp": run[-1]["timestamp"][:-4] + "999Z",          # just after the trace
                "message": "INFO ledger retry card=4111111111111111 owner=alice@example.org dollars=150"})
    ingestor = Ingestor(db)
    ingestor.ingest(run)
    ingestor.flush_pending(force=True)
    (cluster,) = exception_reads.list_clusters(db)
    failure = failure_of_event(db, "ledger", exception_reads.events(db, cluster["id"])[0])
    return failure, {r[0] for r in scan(db, EventFilter(service=["ledger"]), 1000)}


def test_rca_json_on_a_real_traceback(db):
    embedder = HashingEmbedder(128)
    index_checkout(db, embedder, EXC / "programs" / "ledger", "ledger", "v1")
    failure, stored_ids = _ledger_failure(db)
    assert failure.frames[0]["function"] == "_check"                   # the topmost frame is the guard

    rca = rca_for(db, embedder, failure, cluster_id=7)
    RcaResult.model_validate(rca)
    root = rca["likely_root_cause"]
    assert (root["file_path"], root["symbol"]) == ("ledger.py", "Transfer.execute"), rca["candidates"]
    assert root["line_range"] == [36, 39] and 0 < root["confidence"] <= 1 and "Transfer.execute" in root["reasoning"]
    assert [c["symbol"] for c in rca["candidates"][:2]] == ["Transfer.execute", "Account._check"]
    assert rca["supporting_evidence"] and set(rca["supporting_evidence"]) <= stored_ids
    assert failure.exception_event_ids[0] in rca["supporting_evidence"]
    params = {p["name"]: p["value"] for p in rca["involved_parameters"]}
    assert params["dollars"] == "150" and params["card"] == "[REDACTED]" and params["owner"] == "[REDACTED]"
    assert rca["version"] == "v1" and rca["version_exact"] and rca["written_by"] == "deterministic"
    assert rca["fix_suggestions"] and rca["tests_to_add"] and not rca["cached"]

    again = rca_for(db, embedder, failure, cluster_id=7)                # cached per (cluster, version)
    assert again["cached"] and again["likely_root_cause"] == root
    assert code_sql.cached_rca(db, 7, "other") is None

    # an LLM picks among the same candidates; a pick outside them, or prose, changes nothing
    picked = rca_for(db, embedder, failure, cluster_id=7, refresh=True, llm_name="fake", llm=FakeListChatModel(
        responses=[json.dumps({"pick": 2, "reasoning": "The guard is wrong.", "fix_suggestions": ["x"],
                               "tests_to_add": ["y"]})]))
    assert picked["likely_root_cause"]["symbol"] == "Account._check" and picked["written_by"] == "fake"
    assert picked["likely_root_cause"]["reasoning"] == "The guard is wrong." and picked["llm"]["status"] == "ok"
    assert code_sql.cached_rca(db, 7, "v1")["written_by"] == "fake"
    for reply in (json.dumps({"pick": 9, "reasoning": "r", "fix_suggestions": [], "tests_to_add": []}), "it is execute"):
        kept = rca_for(db, embedder, failure, refresh=True, llm=FakeListChatModel(responses=[reply]))
        assert kept["likely_root_cause"] == root and kept["llm"]["status"] == "invalid"


def test_blame_flow_and_parameters():
    src = "def f(a, b):\n    x = a + 1\n    return g(x)\n"
    assert facts(src, 10, 12).own_values and not facts(src, 10, 12).pass_through
    assert facts("def h(v):\n    return json.loads(v)\n", 1, 2).pass_through
    assert facts("def k(n):\n    if n <= 0:\n        raise ValueError(n)\n", 1, 3).raises
    assert facts("def broken(:", 1, 1) is None
    # nothing indexed: the topmost in-app frame stands, said plainly
    view = RcaView(service="s", exception_type="KeyError", message="'x' for token=abcdef123456",
                   frames=[{"file": "/srv/a.py", "function": "f", "line": 3, "in_app": True, "path": None,
                            "symbol": None}])
    assert score(view) == []
    assert build(view)["exception"]["message"] == "'x' for token=[REDACTED]"      # masked as for the LLM
    unranked = build(view)["likely_root_cause"]
    assert (unranked["file_path"], unranked["symbol"], unranked["confidence"]) == ("/srv/a.py", "f", 0.1)
    lines = [{"id": 1, "message": 'GET /api/orders/42 {"sku": "pear", "password": "hunter2"} qty=2'}]
    found = {(p["name"], p["value"], p["source"]) for p in extract(lines, "KeyError: 'pear'")}
    assert {("url_path", "/api/orders/42", "url"), ("sku", "pear", "json"), ("password", "[REDACTED]", "json"),
            ("qty", "2", "kv")} <= found
    assert extract(lines, "KeyError: 'pear'")[0]["name"] == "sku"      # the value the error repeats first


def test_a_producer_in_another_file_and_the_cli(db, db_urls, tmp_path):
    from click.testing import CliRunner

    import server

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "sides.py").write_text("import math\nfrom app.geom import ring_area\n\n\n"
                                               "def side(outer, inner):\n    return math.sqrt(ring_area(outer, inner))\n")
    (tmp_path / "app" / "geom.py").write_text("def ring_area(outer, inner):\n    return 3.14 * (inner ** 2 - outer ** 2)\n")
    env = {"DEVMESH_DB_URL": str(db_urls[0]), "DEVMESH_EMBED_BACKEND": "hash"}
    done = CliRunner().invoke(server.main, ["code", "index", str(tmp_path), "--service", "geo", "--version", "abc1234"],
                              env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["symbols"] == 2
    listed = CliRunner().invoke(server.main, ["code", "versions", "--service", "geo"], env=env)
    assert "abc1234" in listed.output and "files=2" in listed.output
    failure = Failure(service="geo", version="abc1234deadbeef", exception_type="ValueError", message="math domain error",
                      frames=[{"file": "/opt/geo/app/sides.py", "function": "side", "line": 6}])
    rca = rca_for(db, HashingEmbedder(256), failure)
    assert rca["version"] == "abc1234" and rca["version_exact"]      # a long commit matches the short one indexed
    assert [c["symbol"] for c in rca["candidates"][:2]] == ["ring_area", "side"]
    assert "called by side on its failing line" in rca["candidates"][0]["reasons"][0]


def test_cluster_rca_route_and_cli(client, db_urls):
    """The same program's two runs (different amounts) ingested over HTTP: one cluster, whose
    RCA GET /clusters/{id}/rca serves (then keeps), citing events that exist."""
    from click.testing import CliRunner

    import server

    state = client.app.state
    index_checkout(state.db, state.embedder, EXC / "programs" / "ledger", "ledger", "v1")
    records = [json.loads(line) for line in (EXC / "captured" / "ledger.jsonl").read_text().splitlines()]
    records.append({**records[0], "timestamp": "2030-01-01T00:00:00Z", "message": "INFO ledger done"})
    assert client.post("/ingest/logs", json={"logs": records}).json()["pending"] == 0
    (cluster,) = exception_reads.list_clusters(state.db)
    first = client.get(f"/clusters/{cluster['id']}/rca")
    assert first.status_code == 200, first.text
    rca = first.json()
    RcaResult.model_validate(rca)
    assert rca["likely_root_cause"]["symbol"] == "Transfer.execute" and rca["version"] == "v1" and not rca["cached"]
    for event_id in rca["supporting_evidence"]:
        assert client.get(f"/events/{event_id}").status_code == 200
    assert rca["supporting_evidence"][0] in {e["event_id"] for e in exception_reads.events(state.db, cluster["id"])}
    assert client.get(f"/clusters/{cluster['id']}/rca").json()["cached"]
    assert [k["version"] for k in code_sql.kept_rcas(state.db, cluster["id"])] == ["v1"]
    assert client.get(f"/clusters/{cluster['id']}/rca", params={"version": "v9"}).status_code == 404
    assert client.get("/clusters/999999/rca").json()["error"]["code"] == "not_found"
    env = {"DEVMESH_DB_URL": str(db_urls[0]), "DEVMESH_EMBED_BACKEND": "hash"}
    done = CliRunner().invoke(server.main, ["rca", str(cluster["id"])], env=env)
    assert done.exit_code == 0 and "likely root cause: Transfer.execute in ledger.py lines 36-39" in done.output, \
        done.output


def test_eval_case_scoring(db):
    """One eval program with two planted bugs, through evals/exceptions/score: two clusters
    (no merge, no split), each run scored against its bug beside the top-frame baseline."""
    from evals.exceptions.capture import load_cases
    from evals.exceptions.score import score_case, summarize

    rows, clustering = score_case(db, HashingEmbedder(64), "stock", load_cases()["stock"])
    assert clustering == {"case": "stock", "split": "dev", "bugs": 2, "clusters": 2, "split_bugs": 0,
                          "merged_clusters": 0, "exact": True}
    assert [(r["bug"], r["top1"], r["baseline_top1"]) for r in rows] == [
        ("reversed-delta", True, False), ("reversed-delta", True, False), ("price-case", False, True),
        ("price-case", False, True)]
    assert summarize(rows, [clustering])["dev"]["rca_top3"] == 1.0
