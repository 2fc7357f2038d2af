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
from ingest.code_index import index_checkout
from ingest.embedders import HashingEmbedder
from retrieval.rca_inputs import RcaView

EXC = Path(__file__).resolve().parent.parent / "evals" / "exceptions"


def test_rca_of_a_real_traceback(client, db_urls):
    """The ledger program's two runs (different amounts) ingested over HTTP: one cluster, whose
    RCA GET /clusters/{id}/rca serves, then keeps per (cluster, version), citing events that exist."""
    from click.testing import CliRunner

    import server

    state = client.app.state
    index_checkout(state.db, state.embedder, EXC / "programs" / "ledger", "ledger", "v1")
    records = [json.loads(line) for line in (EXC / "captured" / "ledger.jsonl").read_text().splitlines()]
    records.append({**records[-1], "timestamp": records[-1]["timestamp"][:-4] + "999Z", "level": "info",
                    "message": "INFO ledger retry card=4111111111111111 owner=alice@example.org dollars=420"})
    records.append({**records[0], "timestamp": "2030-01-01T00:00:00Z", "message": "INFO ledger done"})
    assert client.post("/ingest/logs", json={"logs": records}).json()["pending"] == 0
    (cluster,) = exception_reads.list_clusters(state.db)
    newest = exception_reads.events(state.db, cluster["id"])[0]
    failure = failure_of_event(state.db, "ledger", newest)
    assert failure.frames[0]["function"] == "_check"                   # the topmost frame is the guard

    first = client.get(f"/clusters/{cluster['id']}/rca")
    assert first.status_code == 200, first.text
    rca = first.json()
    RcaResult.model_validate(rca)
    root = rca["likely_root_cause"]
    assert (root["file_path"], root["symbol"]) == ("ledger.py", "Transfer.execute"), rca["candidates"]
    assert root["line_range"] == [36, 39] and 0 < root["confidence"] <= 1 and "Transfer.execute" in root["reasoning"]
    assert [c["symbol"] for c in rca["candidates"][:2]] == ["Transfer.execute", "Account._check"]
    assert rca["supporting_evidence"][0] == newest["event_id"]
    for event_id in rca["supporting_evidence"]:
        assert client.get(f"/events/{event_id}").status_code == 200      # only ids that exist
    params = {(p["name"], p["value"]) for p in rca["involved_parameters"]}
    assert {("dollars", "420"), ("dollars", "150"), ("card", "[REDACTED]"), ("owner", "[REDACTED]")} <= params
    assert rca["involved_parameters"][0]["in_exception"]           # a value the error repeats comes first
    assert rca["version"] == "v1" and rca["version_exact"] and rca["written_by"] == "deterministic"
    assert rca["fix_suggestions"] and rca["tests_to_add"] and not rca["cached"]

    again = client.get(f"/clusters/{cluster['id']}/rca").json()       # cached per (cluster, version)
    assert again["cached"] and again["likely_root_cause"] == root
    assert [k["version"] for k in code_sql.kept_rcas(state.db, cluster["id"])] == ["v1"]
    assert code_sql.cached_rca(state.db, cluster["id"], "other") is None
    assert client.get(f"/clusters/{cluster['id']}/rca", params={"version": "v9"}).status_code == 404
    assert client.get("/clusters/999999/rca").json()["error"]["code"] == "not_found"
    env = {"DEVMESH_DB_URL": str(db_urls[0]), "DEVMESH_EMBED_BACKEND": "hash"}
    done = CliRunner().invoke(server.main, ["rca", str(cluster["id"])], env=env)
    assert done.exit_code == 0 and "likely root cause: Transfer.execute in ledger.py lines 36-39" in done.output, \
        done.output

    # an LLM picks among the same candidates; a pick outside them, or prose, changes nothing
    picked = rca_for(state.db, state.embedder, failure, cluster["id"], refresh=True, llm_name="fake",
                     llm=FakeListChatModel(responses=[json.dumps({
                         "pick": 2, "reasoning": "The guard is wrong.", "fix_suggestions": ["x"], "tests_to_add": ["y"]})]))
    assert picked["likely_root_cause"]["symbol"] == "Account._check" and picked["written_by"] == "fake"
    assert picked["likely_root_cause"]["reasoning"] == "The guard is wrong." and picked["llm"]["status"] == "ok"
    assert code_sql.cached_rca(state.db, cluster["id"], "v1")["written_by"] == "fake"
    for reply in (json.dumps({"pick": 9, "reasoning": "r", "fix_suggestions": [], "tests_to_add": []}), "it is execute"):
        kept = rca_for(state.db, state.embedder, failure, refresh=True, llm=FakeListChatModel(responses=[reply]))
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


def test_a_producer_in_another_file_the_cli_and_an_eval_case(db, db_urls, tmp_path):
    """A value made in another file; `devmesh code index|versions`; one eval program with two
    planted bugs through evals/exceptions/score: two clusters (no merge, no split), each run
    scored against its bug beside the top-frame baseline."""
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


    from evals.exceptions.capture import load_cases
    from evals.exceptions.score import score_case, summarize

    rows, clustering = score_case(db, HashingEmbedder(64), "stock", load_cases()["stock"])
    assert clustering == {"case": "stock", "split": "dev", "bugs": 2, "clusters": 2, "split_bugs": 0,
                          "merged_clusters": 0, "exact": True}
    assert [(r["bug"], r["top1"], r["baseline_top1"]) for r in rows] == [
        ("reversed-delta", True, False), ("reversed-delta", True, False), ("price-case", False, True),
        ("price-case", False, True)]
    assert summarize(rows, [clustering])["dev"]["rca_top3"] == 1.0
