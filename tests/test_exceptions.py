"""Issue 19, exceptions at ingest: stack traces delivered one line per record (as journald,
Loki and files deliver them) are joined into one event per exception, parsed into frames and
grouped into clusters, against the real MariaDB. Python tracebacks come from really running
small programs; tests/traces/ holds what java, node (both run for real) and Go and .NET
print. Interleaved streams, a trace split across two batches, a late line, a bad record in
the middle, a 10,000-line trace, a flush while MariaDB is away (the trace waits, whole); the
same bug after an edit (other lines, other message) in one cluster, another exception type
from the same function in another, the same bug in a copied file as a near duplicate."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from db import exception_reads as reads
from db.events import EventFilter, scan
from db.pool import Database, DatabaseUnavailable
from ingest.cluster_embedding import embed_clusters
from ingest.embedders import HashingEmbedder
from ingest.exceptions import ExceptionSettings
from ingest.multiline import Joiner, JoinSettings
from ingest.pipeline import Ingestor, process_batch
from ingest.retention import RetentionSettings, prune
from ingest.stacktrace import parse
from retrieval.clusters import detail, near_duplicates, page

TRACES = Path(__file__).resolve().parent / "traces"
T0 = datetime(2026, 3, 1, 12, 0, 0)


def _python_trace(tmp_path: Path, body: str, name: str = "orders.py") -> str:
    """What Python really prints for `body`, run as a program under tmp_path/shop/."""
    path = tmp_path / "shop" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "Traceback" in out.stderr, out.stderr
    return out.stderr.rstrip("\n")


def _lines(text: str, host: str, service: str, start: float, **extra) -> list[dict]:
    return [{"timestamp": (T0 + timedelta(seconds=start, milliseconds=i)).isoformat() + "Z", "host": host,
             "service": service, "level": "error", "message": line, **extra}
            for i, line in enumerate(text.split("\n"))]


def _interleave(*streams: list[dict]) -> list[dict]:
    out, longest = [], max(len(s) for s in streams)
    for i in range(longest):
        out.extend(s[i] for s in streams if i < len(s))
    return out


BUG = """
    def parse_qty(line):
        return int(line["qty"])

    def load(order):
        total = 0
        for line in order:
            total += parse_qty(line)
        return total

    load([{"qty": "2"}, {"qty": %s}])
"""


def test_interleaved_split_late_and_bad_records_join_parse_and_cluster(db, tmp_path):
    py = _python_trace(tmp_path, BUG % '"two"')
    java = (TRACES / "java_chained.txt").read_text().rstrip("\n")
    go = (TRACES / "go_panic.txt").read_text().rstrip("\n")
    a = _lines("request accepted\n" + py + "\nrequest failed", "web-1", "orders", 0)
    b = _lines(java + "\nshutting down", "web-2", "billing", 0)
    c = _lines(go, "web-2", "orders", 0)
    mixed = _interleave(a, b, c)
    mixed.insert(7, {"host": "web-1", "service": "orders", "message": "no timestamp"})     # a bad record
    ingestor = Ingestor(db, hold_traces=True)            # as the server's receivers do
    cut = next(i for i, r in enumerate(mixed) if r["message"].startswith("  File ")) + 3     # mid-Python-trace
    first = ingestor.ingest(mixed[:cut])
    away = Ingestor(Database(dataclasses.replace(db.url, port=9)), joiner=ingestor.joiner, hold_traces=True)
    with pytest.raises(DatabaseUnavailable):             # MariaDB away: a 503, and the shipper sends it again
        away.ingest(mixed[cut:])
    second = ingestor.ingest(mixed[cut:])                # the held traces did not keep the failed lines
    blank = [i for i, r in enumerate(mixed) if r["message"] == ""]      # Go's blank line: refused, as ever
    assert [r["index"] for r in first.rejected] == sorted([7, *blank]) and second.rejected == []
    assert "timestamp" in next(r["error"] for r in first.rejected if r["index"] == 7)
    assert first.pending > 0 and second.joined > 0
    assert first.accepted + second.accepted == len(mixed) - 1 - len(blank) and ingestor.joiner.pending() == 0
    rows = scan(db, EventFilter(), 1000, oldest_first=True)
    messages = sorted(r[6] for r in rows)
    go = go.replace("\n\n", "\n").removesuffix("\nexit status 2")        # `go run`'s own line stands alone
    assert messages == sorted(["request accepted", py, "request failed", java, "shutting down", go,
                               "exit status 2"])
    assert {(r[2], r[3]) for r in rows if r[6] == go} == {("web-2", "orders")}

    clusters = {c["exception_type"]: c for c in reads.list_clusters(db)}
    assert set(clusters) == {"ValueError", "java.lang.IllegalStateException", "runtime error: index out of range"}
    assert clusters["ValueError"]["message_template"].startswith("ValueError: invalid literal for int()")
    event = clusters["ValueError"]["representative_event_id"]
    frames = reads.frames(db, event)
    assert [(f["function"], f["line"]) for f in frames] == [("parse_qty", 3), ("load", 8), ("<module>", 11)]
    assert all(f["in_app"] and f["file"].endswith("shop/orders.py") for f in frames)
    jframes = reads.frames(db, clusters["java.lang.IllegalStateException"]["representative_event_id"])
    assert {f["section_type"] for f in jframes} == {"java.lang.IllegalStateException",
                                                    "java.lang.NumberFormatException"}
    assert ("java.lang.Integer", False) in {(f["module"], f["in_app"]) for f in jframes}

    # a continuation line arriving after its trace was written is kept, as its own event
    late = _lines('  File "/srv/shop/orders.py", line 3, in parse_qty', "web-1", "orders", 0.5)
    assert ingestor.ingest(late).accepted == 1
    assert ingestor.joiner.pending() == 0
    assert len(scan(db, EventFilter(), 1000)) == 8

    # re-posting everything: duplicates only, no cluster moves
    again = Ingestor(db)
    results = list(again.ingest_stream([mixed]))
    assert sum(r.accepted for r in results) == 0
    assert sum(r.duplicates for r in results) == len(mixed) - 1 - len(blank)
    assert sum(c["total_count"] for c in reads.list_clusters(db)) == 3


GROUP = """
    def a():
        raise ValueError("bad a")

    def b():
        raise KeyError("k")

    def run():
        errors = []
        for f in (a, b):
            try:
                f()
            except Exception as exc:
                errors.append(exc)
        raise ExceptionGroup("two failed", errors)

    run()
"""


def test_parse_shapes_and_per_service_rules(tmp_path):
    node = parse((TRACES / "node.txt").read_text())
    assert node.language == "node" and node.type == "TypeError"
    assert [(f.function, f.in_app) for f in node.frames][:2] == [("total", True), ("handle", True)]
    assert not node.frames[-1].in_app                                  # node:internal/timers
    dotnet = parse((TRACES / "dotnet.txt").read_text())
    assert dotnet.type == "System.NullReferenceException" and dotnet.frames[0].line == 42
    assert dotnet.frames[0].module == "Billing.InvoiceService"
    go = parse((TRACES / "go_panic.txt").read_text())
    assert [f.function for f in go.frames] == ["main.lookup", "main.handler", "main.main"]
    assert go.headline == "panic: runtime error: index out of range [5] with length 3"
    assert go.type == "runtime error: index out of range"
    settings = ExceptionSettings(not_in_app={"billing": ["Billing.Program"]})
    ruled = parse((TRACES / "dotnet.txt").read_text(), settings.rules_for("billing"))
    assert [f.in_app for f in ruled.frames] == [True, False]
    assert ruled.fingerprint() != dotnet.fingerprint()
    assert parse("ValueError: one line") is None and parse("plain\ntext") is None
    props = (TRACES / "node_props.txt").read_text().rstrip("\n")      # `at ... {` then the error's fields
    batch = process_batch(_lines(props + "\nnext line", "h", "api", 0))
    assert [r.message for r in batch.records] == [props, "next line"]
    assert batch.parsed[0].frames[0].function == "Object.<anonymous>" and batch.parsed[0].frames[-1].line == 28
    group = _python_trace(tmp_path, GROUP, "jobs.py")                  # Python 3.11 exception groups
    batch = process_batch(_lines(group + "\nValueError: a later, unrelated line", "h", "jobs", 0))
    assert [r.message for r in batch.records] == [group, "ValueError: a later, unrelated line"]
    assert batch.templates[0].template.startswith("ExceptionGroup: two failed")
    assert [(s.type, [f.function for f in s.frames]) for s in batch.parsed[0].sections] == [
        ("ExceptionGroup", ["run", "<module>"]), ("ValueError", ["a", "run"]), ("KeyError", ["b", "run"])]


def test_same_bug_one_cluster_other_type_another_regression_signal(db, tmp_path):
    v1 = _python_trace(tmp_path, BUG % '"two"')
    edited = BUG.replace("        total = 0\n", "        # quantities are strings on the wire\n        total = 0\n\n")
    v2 = _python_trace(tmp_path, edited % '"3 boxes"')
    other = _python_trace(tmp_path, BUG % "None")              # int(None): TypeError, same function
    assert v1 != v2 and "line 3" in v1 and "line 10" in v2
    ingestor = Ingestor(db, hold_traces=True)            # as the server's receivers do
    ingestor.ingest(_lines(v1, "w1", "orders", 0, meta={"version": "v1"}))
    away = Ingestor(Database(dataclasses.replace(db.url, port=9)), joiner=ingestor.joiner)   # MariaDB gone
    with pytest.raises(DatabaseUnavailable):
        away.flush_pending(force=True)
    assert ingestor.joiner.pending() == 1                    # the held trace waits again, whole
    ingestor.ingest(_lines(v2, "w2", "orders", 10, meta={"version": "v2"}))
    ingestor.ingest(_lines(other, "w1", "orders", 20, meta={"version": "v2"}))
    result = ingestor.flush_pending(force=True)
    assert result.accepted == 0 and result.pending == 0     # counted as accepted when held
    assert {c.change for c in result.cluster_changes} == {"new"}
    clusters = {c["exception_type"]: c for c in reads.list_clusters(db, service=["orders"])}
    assert set(clusters) == {"ValueError", "TypeError"}
    same = clusters["ValueError"]
    assert same["total_count"] == 2 and same["status"] == "new"
    assert [v["version"] for v in reads.versions(db, same["id"])] == ["v2", "v1"]
    assert sum(n for _, n in reads.counts(db, same["id"])) == 2
    assert [s["id"] for s in reads.similar(db, same["id"])] == [clusters["TypeError"]["id"]]
    one = page(db, sort="count", limit=1)
    two = page(db, sort="count", limit=1, cursor=one["next"])
    assert [c["id"] for c in one["clusters"] + two["clusters"]] == [same["id"], clusters["TypeError"]["id"]]
    assert two["next"] is None
    changed = reads.changed_between(db, T0, T0 + timedelta(minutes=1))
    assert {(c["exception_type"], c["change"]) for c in changed} == {("ValueError", "new"), ("TypeError", "new")}

    # the same bug in a copy of the file elsewhere: another static fingerprint, a near semantic one
    copy = _python_trace(tmp_path / "vendored", BUG % '"ten"', "orders_copy.py")
    ingestor.ingest(_lines(copy, "w4", "orders", 30))
    ingestor.flush_pending(force=True)
    embedder = HashingEmbedder()
    assert embed_clusters(db, embedder) == 3 and embed_clusters(db, embedder) == 0
    twin = next(c for c in reads.list_clusters(db) if c["id"] not in {same["id"], clusters["TypeError"]["id"]})
    near = near_duplicates(db, embedder, same["id"])
    assert near and near[0]["id"] == twin["id"], near
    shown = detail(db, same["id"], embedder=embedder)["similar"]
    assert [(s["id"], s["reason"]) for s in shown] == [(clusters["TypeError"]["id"], "same frame"),
                                                        (twin["id"], "same type")]
    assert near[0]["reason"] == "similar text" and near[0]["distance"] < 0.35

    assert reads.set_status(db, same["id"], "resolved")
    assert ingestor.ingest(_lines(v1, "w3", "orders", 90, meta={"version": "v3"})).cluster_changes == []
    back = ingestor.flush_pending(force=True)
    assert [(c.cluster_id, c.change) for c in back.cluster_changes] == [(same["id"], "regressed")]
    assert reads.get_cluster(db, same["id"])["status"] == "regressed"
    changed = reads.changed_between(db, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    assert [(c["id"], c["change"]) for c in changed] == [(same["id"], "regressed")]

    pruned = prune(db, RetentionSettings(), now=T0 + timedelta(days=30))      # events go, clusters stay
    assert pruned["events"] > 0 and reads.events(db, same["id"]) == []
    assert db.fetchone("SELECT COUNT(*) FROM exception_events")[0] == 0
    kept = reads.get_cluster(db, same["id"])
    assert reads.frames(db, kept["representative_event_id"]) == [] and kept["total_count"] == 3


def test_ten_thousand_line_trace_is_capped_and_nothing_else_dropped(db):
    frames = "\n".join(f"\tat com.shop.Deep.step{i}(Deep.java:{i + 1})" for i in range(9_998))
    trace = "java.lang.StackOverflowError: deep\n" + frames + "\n\tat com.shop.Deep.main(Deep.java:1)"
    records = _lines("before\n" + trace + "\nafter", "w1", "deep", 0)
    other = _lines("another stream", "w2", "deep", 1)
    prepared = process_batch(records + other)
    assert len(prepared.records) == 4 and prepared.joined == 9_999
    result = Ingestor(db, joiner=Joiner(JoinSettings(hold_s=0))).ingest(records + other)
    assert result.accepted == len(records) + 1
    rows = {r[6].split("\n", 1)[0]: r[6] for r in scan(db, EventFilter(), 100)}
    assert set(rows) == {"before", "java.lang.StackOverflowError: deep", "after", "another stream"}
    capped = rows["java.lang.StackOverflowError: deep"].split("\n")
    assert len(capped) == 1_001 and len("\n".join(capped).encode()) <= 65_000
    marker = [line for line in capped if line.startswith("[devmesh:")]
    assert marker == ["[devmesh: 9000 lines of this trace were left out: it has 10000 lines, "
                      "the first 500 and the last 500 are kept]"]
    assert capped[1] == "\tat com.shop.Deep.step0(Deep.java:1)" and capped[-1].endswith("Deep.main(Deep.java:1)")
    assert [c["total_count"] for c in reads.list_clusters(db, service=["deep"])] == [1]


def test_clusters_api_feedback_status_and_regression_signal(client, db, db_urls, tmp_path):
    from click.testing import CliRunner

    from detectors.cycle import run_cycle
    from detectors.settings import DetectorSettings
    from retrieval.clusters_cli import clusters as clusters_cli
    from tests.conftest import make_settings

    trace = _lines(_python_trace(tmp_path, BUG % '"two"'), "w1", "orders", 0)
    half = len(trace) // 2
    first = client.post("/ingest/logs", json={"logs": trace[:half]}).json()
    assert first["pending"] == half and first["accepted"] == half
    assert client.post("/ingest/logs", json={"logs": trace[half:] + _lines("done", "w1", "orders", 1)}).json()[
        "joined"] == len(trace) - half                  # this batch's lines, folded into the held trace
    listed = client.get("/clusters", params={"service": "orders", "sort": "recency"}).json()
    assert [c["exception_type"] for c in listed["clusters"]] == ["ValueError"] and listed["next"] is None
    cid = listed["clusters"][0]["id"]
    shown = client.get(f"/clusters/{cid}").json()
    assert shown["representative"]["event"]["message"] == "\n".join(r["message"] for r in trace)
    assert [f["function"] for f in shown["representative"]["sections"][0]["frames"]] == ["parse_qty", "load",
                                                                                        "<module>"]
    assert shown["counts"] == [{"bucket": "2026-03-01T12:00:00Z", "count": 1}] and shown["rca"] == []
    assert client.post(f"/clusters/{cid}/feedback", json={"verdict": "partially_correct", "notes": "close"}).status_code == 200
    assert [f["verdict"] for f in client.get(f"/clusters/{cid}").json()["feedback"]] == ["partially_correct"]
    assert client.post(f"/clusters/{cid}/feedback", json={"verdict": "maybe"}).status_code == 422
    assert client.post("/clusters/999999/feedback", json={"verdict": "accept"}).status_code == 404
    assert client.get("/clusters", params={"status": "gone"}).status_code == 400
    assert client.get("/clusters", params={"cursor": "nope"}).status_code == 400
    assert client.get("/clusters/999999").status_code == 404

    assert client.post(f"/clusters/{cid}/status", json={"status": "resolved"}).json()["status"] == "resolved"
    again = _lines(_python_trace(tmp_path, BUG % '"six"'), "w2", "orders", 70) + _lines("done", "w2", "orders", 71)
    client.post("/ingest/logs", json={"logs": again})
    assert client.get("/clusters", params={"status": "regressed"}).json()["clusters"][0]["id"] == cid
    result = run_cycle(db, None, DetectorSettings(), T0 + timedelta(minutes=2, seconds=10))
    cited = [s for s in result.signals if s.detector == "exception_cluster"]
    assert [(s.service, s.detail["cluster_id"], s.detail["change"]) for s in cited] == [("orders", cid, "regressed")]
    cli = CliRunner().invoke(clusters_cli, ["--status", "regressed", "--json"], obj=make_settings(db_urls))
    assert cli.exit_code == 0 and [c["id"] for c in json.loads(cli.output)["clusters"]] == [cid], cli.output
    shown = CliRunner().invoke(clusters_cli, ["show", str(cid)], obj=make_settings(db_urls))
    assert shown.exit_code == 0 and f"cluster {cid} [regressed] orders" in shown.output
    assert "* parse_qty" in shown.output and "version -: 2" in shown.output
    missing = CliRunner().invoke(clusters_cli, ["show", "999999"], obj=make_settings(db_urls))
    assert missing.exit_code == 1 and "no exception cluster 999999" in missing.output
    incident = client.get(f"/incidents/{result.opened[0]}").json()
    assert [(c["id"], c["signalled"]) for c in incident["clusters"]] == [(cid, True)]
    assert incident["clusters"][0]["events_in_window"] >= 1 and incident["clusters"][0]["status"] == "regressed"
