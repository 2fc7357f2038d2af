"""Issue 22: the window analysis (triage, extraction held to its schema), the LLM's prose
with Ollama replayed at the HTTP layer (respx, /api/chat's NDJSON), POST /analyze/window,
GET /changes and GET /summary on a real MariaDB, and the extraction eval's scorer."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import respx

from agents.analysis import build_view, triage
from agents.extraction import Extraction, extract
from agents.llm import LLMSettings, build_chat_model
from agents.window import run
from agents.window_changes import binomial_upper, compare
from ingest.templates import template_of

OLLAMA = "http://ollama.test:11434"
START = datetime(2026, 3, 2, 12, 0)
CRON = "CRON[{n}]: (root) CMD (/usr/local/bin/backup.sh --incremental)"
SCAN = "error: kex_exchange_identification: Connection closed by remote host"
NEW = "ERROR:  could not open file \"base/16384/2619\": Permission denied"


def rows_of(lines: list[tuple[datetime, str, str, str, str]]) -> list[tuple]:
    """(ts, host, service, level, message) -> the minute rollup rows the server would hold."""
    out: dict[tuple, int] = {}
    text = {}
    for ts, host, service, level, message in lines:
        template_id, template = template_of(message)
        key = (ts.replace(second=0, microsecond=0), service, host, level, template_id)
        out[key] = out.get(key, 0) + 1
        text[template_id] = template
    return [(b, s, h, lvl, t, text[t], n) for (b, s, h, lvl, t), n in out.items()]


def habitual_window(with_new_error: bool):
    """6 h of history where an hourly backup burst logs 200 error lines at :05 and sshd sees
    scanners; the window (12:00-12:30) has the same burst, and maybe 3 new errors."""
    lines = []
    for hour in range(-6, 1):
        for i in range(200):
            lines.append((START + timedelta(hours=hour, minutes=5, seconds=i % 60), "db-1", "backup", "error",
                          CRON.replace("{n}", str(1000 + i))))
    for minute in range(-360, 30, 7):
        lines.append((START + timedelta(minutes=minute), "db-1", "sshd", "info", SCAN))
    if with_new_error:
        lines += [(START + timedelta(minutes=20, seconds=s), "db-1", "postgresql", "error", NEW) for s in (1, 9, 30)]
    return build_view(rows_of(lines), START, START + timedelta(minutes=30), START - timedelta(hours=6))


def test_a_window_without_errors_says_so_with_severity_info():
    lines = [(START - timedelta(minutes=m), "web-1", "nginx", "info", f'GET /items/{m} HTTP/1.1" 200') for m in
             range(-29, 300)]
    view = build_view(rows_of(lines), START, START + timedelta(minutes=30), START - timedelta(hours=6))
    found = extract(view, triage(view))
    assert view.lines == 30 and triage(view) == []
    assert found.severity == "info" and found.error_signature is None and found.component is None
    assert found.root_cause.startswith("No errors or warnings in the window")


def test_a_small_new_error_ranks_above_a_loud_habitual_burst():
    view = habitual_window(with_new_error=True)
    ranked = triage(view)
    burst = template_of(CRON.replace("{n}", "1"))[0]
    new = template_of(NEW)[0]
    by_id = {c.stat.template_id: c for c in ranked}
    assert by_id[burst].stat.count == 200 and by_id[new].stat.count == 3       # the burst is the loudest
    assert by_id[burst].habitual and not by_id[burst].notable and by_id[new].novel
    assert ranked[0].stat.template_id == new
    found = extract(view, ranked)
    assert found.error_signature.template_id == new and found.component == "postgresql"
    assert found.severity in ("medium", "high")


def test_only_the_habitual_burst_is_no_new_problem():
    found = extract(*(lambda v: (v, triage(v)))(habitual_window(with_new_error=False)))
    assert found.severity == "info" and found.error_signature is None
    assert found.root_cause.startswith("No new problem") and "backup" in found.root_cause


def ollama(content: str, reason: str = "stop") -> httpx.Response:
    """/api/chat's NDJSON stream: a message chunk, then the final chunk with its done_reason."""
    chunks = [{"model": "qwen2.5:7b-instruct", "created_at": "2026-03-02T12:30:00.000000Z",
               "message": {"role": "assistant", "content": content}, "done": False},
              {"model": "qwen2.5:7b-instruct", "created_at": "2026-03-02T12:30:01.000000Z",
               "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": reason,
               "total_duration": 812345678, "load_duration": 1234567, "prompt_eval_count": 412,
               "prompt_eval_duration": 1, "eval_count": 37, "eval_duration": 1}]
    return httpx.Response(200, content="".join(json.dumps(c) + "\n" for c in chunks).encode(),
                          headers={"Content-Type": "application/x-ndjson"})


def model():
    return build_chat_model(LLMSettings(backend="ollama", url=OLLAMA, timeout_s=5))


@respx.mock
def test_the_json_validates_whatever_the_model_replies():
    view = habitual_window(with_new_error=True)
    plain = run(view)["extraction"]
    new = template_of(NEW)[0]
    cut = '{"root_cause": "PostgreSQL cannot read base/16384/2619 because the file permis'
    replies = [ollama(cut, "length"), ollama("The database has a permissions problem."),
               ollama('{"root_cause": 7, "action": "x", "summary": "y"}'),
               httpx.Response(500, json={"error": "model crashed"}),
               ollama(json.dumps({"root_cause": f"Wrong file ownership on base/16384 [template:{new}] [template:99]",
                                  "action": "chown -R postgres:postgres /var/lib/postgresql", "summary": "x" * 5000}))]
    route = respx.post(f"{OLLAMA}/api/chat").mock(side_effect=replies)
    outcomes = [run(view, model()) for _ in replies]
    assert route.call_count == len(replies)
    assert [o["llm"]["status"] for o in outcomes] == ["cut", "invalid", "invalid", "error", "ok"]
    for o in outcomes[:4]:                                  # the deterministic extraction stands as it was
        assert o["extraction"] == plain
    last = outcomes[-1]["extraction"]
    Extraction.model_validate(last)
    assert {k: last[k] for k in ("component", "error_signature", "severity")} == \
        {k: plain[k] for k in ("component", "error_signature", "severity")}
    assert last["action"].startswith("chown") and len(last["summary"]) <= 1200
    assert f"[template:{new}]" in last["root_cause"] and "[template:99 (unverified)]" in last["root_cause"]
    assert outcomes[-1]["llm"]["unverified"] == ["template:99"]
    sent = json.loads(route.calls[-1].request.content)
    assert set(sent["format"]["required"]) == {"root_cause", "action", "summary"}     # held to the prose schema
    assert "Permission denied" in sent["messages"][0]["content"]


def test_changes_are_significant_only_when_the_counts_say_so():
    assert binomial_upper(3, 4, 0.5) < 1 and binomial_upper(12, 12, 0.5) > 3
    before = {("api", 1): {"count": 1, "level": "error", "template": "a"},
              ("api", 2): {"count": 40, "level": "info", "template": "b"},
              ("api", 3): {"count": 500, "level": "info", "template": "c"}}
    after = {("api", 1): {"count": 3, "level": "error", "template": "a"},
             ("api", 4): {"count": 12, "level": "error", "template": "d"},
             ("api", 3): {"count": 700, "level": "info", "template": "c"}}
    found = compare(before, after, 60, 60)
    assert [r["template_id"] for r in found["new"]] == [4] and found["new"][0]["significant"]
    assert [r["template_id"] for r in found["gone"]] == [2] and found["gone"][0]["significant"]
    up = {r["template_id"]: r for r in found["up"]}
    assert not up[1]["significant"] and up[3]["significant"] and up[3]["ratio"] == 1.4


def _post_window(client, now: datetime):
    base = now.replace(second=0, microsecond=0) - timedelta(hours=3)
    logs = [{"timestamp": (base + timedelta(minutes=m)).isoformat() + "Z", "host": "db-1", "service": "mariadb",
             "level": "info", "message": f"[Note] InnoDB: Buffer pool(s) dump completed at {m}"} for m in range(0, 180, 3)]
    logs += [{"timestamp": (base + timedelta(minutes=170, seconds=s)).isoformat() + "Z", "host": "db-1",
              "service": "mariadb", "level": "error",
              "message": f"[ERROR] mariadbd: Disk full (/var/lib/mysql/t{s}.ibd); waiting for someone to free space"}
             for s in range(8)]
    assert client.post("/ingest/logs", json={"logs": logs}).json()["accepted"] == len(logs)
    return base + timedelta(hours=3)


def test_analyze_window_changes_and_summary_over_http(client):
    until = _post_window(client, datetime(2026, 3, 2, 15, 0))
    body = {"service": "mariadb", "duration": "30m", "until": until.isoformat() + "Z", "baseline": "150m"}
    out = client.post("/analyze/window", json=body).json()
    Extraction.model_validate(out["extraction"])
    assert out["extraction"]["severity"] == "critical" and out["extraction"]["component"] == "mariadb"
    assert "Disk full" in out["extraction"]["error_signature"]["text"] and out["llm"] == {"status": "off"}
    assert out["analysis"]["ranked"][0]["novel"] and out["analysis"]["ranked"][0]["catastrophic"] == "disk_full"

    with client.stream("POST", "/analyze/window", json={**body, "stream": True}) as response:
        events = [line.split(":", 1)[1].strip() for line in response.iter_lines() if line.startswith("event:")]
    assert events == ["analysis", "extraction", "done"]

    changes = client.get("/changes", params={"service": "mariadb", "a": "1h", "b": "30m",
                                              "until": until.isoformat() + "Z"}).json()
    assert [r["count_b"] for r in changes["new"]] == [8] and changes["new"][0]["significant"]
    summary = client.get("/summary", params={"service": "mariadb", "since": (until - timedelta(minutes=30)).isoformat(),
                                             "until": until.isoformat(), "baseline": "2h"}).json()
    assert summary["errors"] == 8 and summary["first_seen"][0]["level"] == "error" and summary["silent"] == []


def test_bad_windows_are_4xx_that_say_what_to_fix(client):
    cases = [({"service": "x"}, 400, "invalid_window"),
             ({"since": "30m", "duration": "30m"}, 400, "invalid_window"),
             ({"since": "yesterday-ish"}, 400, "invalid_time"),
             ({"since": "99999999d"}, 400, "invalid_time"),                 # too far back to compute: not a 500
             ({"duration": "8d"}, 400, "invalid_duration"),
             ({"since": "2026-03-02T12:00:00Z", "until": "2026-03-02T11:00:00Z"}, 400, "invalid_window"),
             ({"duration": "30m", "baseline": "0m"}, 400, "invalid_duration"),
             ({"duration": "30m", "labels": {"level": ["loud"]}}, 400, "invalid_level"),
             ({"duration": "30m", "labels": {"pod": "x"}}, 422, "invalid_request"),
             ({"duration": "30m", "service": "a", "labels": {"service": "b"}}, 400, "invalid_scope")]
    for body, status, code in cases:
        r = client.post("/analyze/window", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
        assert r.json()["error"]["message"]
    assert client.get("/changes", params={"a": "soon"}).json()["error"]["code"] == "invalid_duration"
    assert client.get("/changes", params={"limit": 0}).status_code == 422
    assert client.get("/summary", params={"since": "tomorrow"}).status_code == 400


def test_the_extraction_eval_runs_and_its_scorer_fails_a_wrong_answer():
    from evals.extraction_score import discover, run, score

    cases = discover()
    assert len(cases) >= 60 and {c.split for c in cases} == {"dev", "test"}
    picked = [c for c in cases if c.expect.get("signature")][:2] + [c for c in cases if not c.expect.get("signature")][:1]
    result = run(picked)
    assert result["splits"]["all"]["deterministic"]["cases"] == 3 and "naive" in result["splits"]["all"]
    case = picked[0]
    right = Extraction(root_cause=" ".join(g.split("|")[0] for g in case.expect["root_cause"]),
                       component=case.expect["component"],
                       error_signature={"template_id": template_of(case.expect["signature"])[0], "text": "x"},
                       severity=case.expect["severity"], action=case.expect["action"][0].split("|")[0],
                       summary=case.expect["summary"])
    assert set(score(case, right).values()) == {1.0}
    wrong = right.model_copy(update={"severity": "info" if case.expect["severity"] != "info" else "critical",
                                     "component": "nobody", "error_signature": None,
                                     "root_cause": "zzz", "action": "zzz", "summary": "zzz"})
    assert set(score(case, wrong).values()) == {0.0}


def test_the_chat_answers_what_changed_with_significant_templates_only(client):
    from datetime import timezone

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    _post_window(client, now)
    out = client.post("/analyze", json={"question": "what changed in the last 30 minutes?"}).json()
    assert out["route"]["route"] == "changed"
    answer = out["answer"]["markdown"]
    assert "**New**" in answer and "Disk full" in answer and "0 -> 8" in answer
    assert "Buffer pool" not in answer                       # a steady template is not a change
    disk = next(e for e in out["events"] if e["event"] == "evidence")["data"]["items"]
    assert [i["count"] for i in disk] == [8] and out["answer"]["citations"] == [disk[0]["id"]]


def test_devmesh_analyze_streams_then_prints_one_json_from_a_real_server(db_urls, tmp_path, services):
    """`devmesh analyze` as a user runs it, against `devmesh serve`: the ranked templates and
    the extraction streamed, `--json` the one answer; a bad window is one Error: line."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from db.graph import Graph
    from db.settings import GraphSettings
    from evals.live import LiveServer

    server = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    try:
        until = _post_window(httpx.Client(base_url=server.url, timeout=30), datetime(2026, 3, 2, 15, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVMESH_")} | {"DEVMESH_URL": server.url}
        cli = [str(Path(sys.executable).parent / "devmesh"), "analyze", "--service", "mariadb", "--duration", "30m",
               "--until", until.isoformat() + "Z", "--baseline", "150m"]
        streamed = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=60)
        assert streamed.returncode == 0, streamed.stderr
        assert "ranked (score, template)" in streamed.stdout and "severity:   critical" in streamed.stdout
        assert "component:  mariadb" in streamed.stdout and "(llm: off)" in streamed.stdout
        one = json.loads(subprocess.run([*cli, "--json"], capture_output=True, text=True, env=env, timeout=60).stdout)
        assert one["extraction"]["severity"] == "critical" and one["analysis"]["ranked"][0]["count"] == 8
        bad = subprocess.run([*cli[:2], "--since", "whenever"], capture_output=True, text=True, env=env, timeout=60)
        assert bad.returncode == 1 and "Traceback" not in bad.stderr
        errors = [line for line in bad.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "invalid_time" in errors[0] and "since='whenever'" in errors[0], bad.stderr
    finally:
        server.stop()
        graph = Graph(GraphSettings().resolved_url(services), server.env["DEVMESH_GRAPH_NAME"])
        graph.drop()
        graph.close()


@respx.mock
def test_an_openai_compatible_server_cut_at_its_token_bound_keeps_the_deterministic_extraction():
    """llama.cpp's server (what `--llm local` runs) in OpenAI's shape: a schema-held reply
    cut at max_tokens (finish_reason length), then a whole one."""
    from tests.test_planner import LLM, scripted, small_model

    view = habitual_window(with_new_error=True)
    plain = run(view)["extraction"]
    route = respx.post(f"{LLM}/chat/completions").mock(side_effect=scripted(
        ('{"root_cause": "The postgres data directory lost its perm', "length"),
        json.dumps({"root_cause": "Permissions on base/16384 changed.", "action": "Fix ownership.",
                    "summary": "PostgreSQL cannot open a relation file."})))
    cut, whole = run(view, small_model()), run(view, small_model())
    assert (cut["llm"]["status"], cut["extraction"]) == ("cut", plain)
    assert whole["llm"]["status"] == "ok" and whole["extraction"]["root_cause"] == "Permissions on base/16384 changed."
    sent = json.loads(route.calls[0].request.content)
    assert sent["response_format"]["type"] == "json_schema" and sent["max_completion_tokens"] == 512


def test_the_database_view_is_the_view_of_the_same_lines(db):
    """window.gather groups the rollups by history slice in SQL; its triage must be the one the
    pure view of the same lines gives (the extraction eval scores the pure one)."""
    from agents.window import gather
    from ingest.pipeline import Ingestor

    lines = []
    for hour in range(-6, 1):
        lines += [(START + timedelta(hours=hour, minutes=5, seconds=i % 60), f"db-{i % 2}", "backup", "error",
                   CRON.replace("{n}", str(1000 + i))) for i in range(200)]
    lines += [(START + timedelta(minutes=m), "db-1", "sshd", "warning", SCAN) for m in range(-360, 30, 7)]
    lines += [(START + timedelta(minutes=20, seconds=s), "db-1", "postgresql", "error", NEW) for s in (1, 9, 30)]
    Ingestor(db).ingest([{"timestamp": ts.isoformat() + "Z", "host": h, "service": s, "level": lvl, "message": m}
                         for ts, h, s, lvl, m in lines])
    pure = build_view(rows_of(lines), START, START + timedelta(minutes=30), START - timedelta(hours=6))
    stored = gather(db, None, None, None, START, START + timedelta(minutes=30), timedelta(hours=6))
    assert stored.slices == pure.slices == 12 and stored.lines == pure.lines
    assert {k: (v.count, v.baseline, v.history, v.hosts, v.first, v.level) for k, v in stored.stats.items()} == \
        {k: (v.count, v.baseline, v.history, v.hosts, v.first, v.level) for k, v in pure.stats.items()}
    assert [c.as_dict() for c in triage(stored)] == [c.as_dict() for c in triage(pure)]


def test_an_alias_names_the_inventory_service_and_an_empty_scope_says_it_heard_nothing(db_urls):
    """`--service mysql` is the inventory's mariadb (stored under that name by ingest); a
    name that logged nothing is not reported healthy."""
    from pathlib import Path

    from fastapi.testclient import TestClient

    import server
    from tests.conftest import make_settings

    app = server.create_app(make_settings(db_urls, inventory=Path(__file__).resolve().parent.parent / "inventory.yaml"))
    with TestClient(app) as c:
        try:
            until = _post_window(c, datetime(2026, 3, 2, 15, 0))
            body = {"duration": "30m", "until": until.isoformat() + "Z", "baseline": "150m"}
            aliased = c.post("/analyze/window", json={**body, "service": "mysql"}).json()
            assert aliased["scope"]["services"] == ["mariadb"] and aliased["extraction"]["component"] == "mariadb"
            assert c.get("/changes", params={"service": "mysql", "b": "30m", "until": until.isoformat() + "Z"}
                         ).json()["service"] == "mariadb"
            nothing = c.post("/analyze/window", json={**body, "service": "no-such-service"}).json()["extraction"]
            assert nothing["severity"] == "info" and nothing["root_cause"].startswith("No lines at all")
        finally:
            app.state.graph.drop()


@respx.mock
def test_the_extraction_eval_with_a_model_counts_its_calls_tokens_and_seconds():
    """`devmesh eval extraction --llm` reports what the model cost beside its scores: llama.cpp's
    server (OpenAI's shape) replayed, one reply per window, its usage summed."""
    from agents.llm import UsageCounter
    from evals.extraction_score import discover, run as run_eval
    from tests.test_planner import LLM, scripted

    picked = [c for c in discover() if c.expect.get("signature")][:2]
    respx.post(f"{LLM}/chat/completions").mock(side_effect=scripted(
        json.dumps({"root_cause": "x", "action": "y", "summary": "z"}), "not json"))
    usage = UsageCounter()
    model = build_chat_model(LLMSettings(backend="openai", url=LLM, model="qwen2.5-coder-0.5b", timeout_s=5), [usage])
    result = run_eval(picked, model, usage=usage)
    assert result["llm_status"] == {"ok": 1, "invalid": 1}
    cost = result["llm_usage"]
    assert (cost["calls"], cost["input_tokens"], cost["output_tokens"]) == (2, 732, 68)
    assert cost["seconds_total"] >= 0 and all("seconds" in c["llm"] for c in result["cases"])
    assert result["cases"][1]["llm"]["scores"] == result["cases"][1]["scores"]   # invalid: deterministic prose stands
