"""The `devmesh` CLI as a user runs it: parse, import, services status, migrate."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from db.settings import ServicesSettings
from ingest.templates import template_of

REPO = Path(__file__).resolve().parent.parent
DEVMESH = [sys.executable, "-m", "server"]


def run(args, stdin=None, env=None):
    return subprocess.run([*DEVMESH, *args], input=stdin, capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_parse_writes_one_line_per_input_line_in_order():
    lines = ["Connection to 10.0.0.1:3306 refused after 3s", "", "Connection to 10.0.0.2:3306 refused after 9s",
             "session opened for user root by (uid=0)", "tab\tinside"]
    out = run(["parse"], stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.split("\n")[:-1]
    assert len(rows) == len(lines)
    ids = [int(r.split("\t", 1)[0]) for r in rows]
    assert ids[0] == ids[2] != ids[3]
    assert [r.split("\t", 1)[1] for r in rows][0] == "Connection to <IP>:<NUM> refused after <DURATION>"
    assert ids == [template_of(line)[0] for line in lines]


def test_parse_learns_word_variables_across_the_input_unless_streaming():
    lines = [f"{p} - proxy.example.net:5070 close, {n} bytes sent" for n, p in
             enumerate(["chrome.exe", "firefox.exe", "dropbox.exe", "chrome.exe"])]
    learned = run(["parse"], stdin="\n".join(lines) + "\n")
    streamed = run(["parse", "--stream"], stdin="\n".join(lines) + "\n")
    assert learned.returncode == streamed.returncode == 0, learned.stderr + streamed.stderr
    learned_ids = {r.split("\t", 1)[0] for r in learned.stdout.splitlines()}
    assert len(learned_ids) == 1 and learned.stdout.splitlines()[0].split("\t", 1)[1].startswith("<*> - ")
    assert len({r.split("\t", 1)[0] for r in streamed.stdout.splitlines()}) == 3


def test_import_reads_json_lines_journal_exports_and_syslog(db_urls, db, tmp_path):
    wire = tmp_path / "wire.jsonl"
    wire.write_text(json.dumps({"timestamp": "2026-01-20T10:00:00Z", "host": "a", "service": "api",
                                "message": "GET /health 200"}) + "\n" + "{broken json\n")
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"__REALTIME_TIMESTAMP": "1768903200000000", "_HOSTNAME": "db-1",
                                   "_SYSTEMD_UNIT": "mariadb.service", "PRIORITY": "3", "MESSAGE": "disk full",
                                   "_PID": "812", "__CURSOR": "s=abc"}) + "\n")
    syslog = tmp_path / "syslog"
    syslog.write_text("Jan 20 10:00:01 web-1 nginx[311]: upstream timed out\n"
                      "<165>1 2026-01-20T10:00:02.5Z gw-1 ollama 77 - - model loaded\n")
    env = {"DEVMESH_DB_URL": str(db_urls[0])}
    out = run(["import", str(wire), str(journal), str(syslog)], env=env)
    assert out.returncode == 0, out.stderr
    totals = json.loads(out.stdout.strip().splitlines()[-1])
    assert (totals["lines"], totals["accepted"], totals["rejected"]) == (5, 4, 1)
    assert "wire.jsonl:2" in totals["errors"][0]
    rows = dict(db.fetchall("SELECT service, level FROM log_events"))
    # mapped through the default inventory (the repo's), as the server maps (issue 24)
    assert rows == {"api": "info", "mariadb": "error", "nginx": "info", "ollama-gpu1": "notice"}
    again = json.loads(run(["import", str(wire), str(journal), str(syslog)], env=env).stdout.strip().splitlines()[-1])
    assert (again["accepted"], again["duplicates"]) == (0, 4)


def test_services_status_reports_address_version_and_datadir(services):
    out = run(["services", "status", "--json"])
    assert out.returncode == 0, out.stderr
    rows = {r["service"]: r for r in json.loads(out.stdout)}
    assert rows["falkordb"]["state"] == "running" and "FalkorDB" in rows["falkordb"]["version"]
    assert rows["falkordb"]["address"] == f"127.0.0.1:{services.falkordb_port}"
    if not os.environ.get("DEVMESH_DB_URL"):
        assert rows["mariadb"]["state"] == "running"
        major, minor = map(int, rows["mariadb"]["version"].split(".")[:2])
        assert (major, minor) >= (11, 7)
        assert Path(rows["mariadb"]["datadir"]).is_dir()


def test_services_up_is_idempotent(services):
    out = run(["services", "up"])
    assert out.returncode == 0, out.stderr
    assert "falkordb: already running" in out.stdout


def test_services_up_from_two_processes_at_once_starts_one_server(tmp_path):
    """Two `up`s at the same moment (two pytest workers): one starts FalkorDB, the other finds
    it running, and the pid file names the server that holds the port."""
    import multiprocessing

    from db.local.process import running_pid, stop
    from tests.conftest import _free_port

    settings = ServicesSettings(state_dir=tmp_path / "state", falkordb_port=_free_port())
    ctx = multiprocessing.get_context("fork")       # the children run _up_graph_after as imported here
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_up_graph_after, args=(settings.state_dir, settings.falkordb_port, barrier, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    try:
        lines = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(timeout=30)
        assert [line.split(" on ")[0] for line in lines] == ["falkordb: already running", "falkordb: started"]
        pid = running_pid(settings.state_dir / "falkordb" / "server.pid")
        assert pid is not None and f"{settings.falkordb_port}" in Path(f"/proc/{pid}/cmdline").read_text()
    finally:
        stop(settings.state_dir / "falkordb" / "server.pid")


def _up_graph_after(state_dir, port, barrier, results):
    from db import local

    barrier.wait()
    try:
        results.put(local.up(ServicesSettings(state_dir=state_dir, falkordb_port=port), manage_db=False)[-1])
    except Exception as exc:  # noqa: BLE001 - the parent asserts on what each process said
        results.put(f"failed: {exc}")


def test_migrate_command_is_idempotent(db_urls):
    out = run(["migrate"], env={"DEVMESH_DB_URL": str(db_urls[0])})
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout


def test_load_inventory_validates_and_loads(tmp_path, services):
    good = tmp_path / "inventory.yaml"
    good.write_text("services:\n  api: {hosts: [h1], depends_on: [db]}\n  db: {hosts: [h2]}\n")
    env = {"DEVMESH_GRAPH_NAME": f"devmesh_t_cli_{tmp_path.name}"}
    out = run(["load-inventory", str(good)], env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["services"] == 2
    from db.graph import Graph
    from db.settings import GraphSettings

    graph = Graph(GraphSettings().resolved_url(services), env["DEVMESH_GRAPH_NAME"])
    try:
        from db import graph as cypher

        assert cypher.upstream(graph, "api") == [("db", 1)]
    finally:
        graph.drop()
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  api: {depends_on: [dbb]}\n  db: {}\n")
    out = run(["load-inventory", str(bad)], env=env)
    assert out.returncode != 0
    assert f"{bad}:2:22: services.api.depends_on: unknown service 'dbb' (did you mean 'db'?)" in out.stderr


HEAVY = ("torch", "sentence_transformers", "langchain", "langchain_core", "langgraph", "fastapi", "numpy",
         "transformers", "openai", "ollama", "uvicorn")
PROBE = """
import io, json, sys
sys.stdin = io.StringIO(sys.argv[2])
import server
try:
    server.main(json.loads(sys.argv[1]), standalone_mode=False)
except SystemExit:
    pass
print("\\nLOADED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def loaded_by(args: list[str], stdin: str = "") -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), stdin], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert "LOADED " in out.stdout, out.stderr
    return set(json.loads(out.stdout.rsplit("LOADED ", 1)[1]))


def test_light_commands_import_nothing_heavy(services):
    """Issue 14 (bug): `devmesh --help` took 5.1 s and `devmesh parse` 4.7 s: torch,
    sentence-transformers, LangChain and the whole app were imported before any command ran.
    Fix: a lazy command table in server.py, settings read on first use, imports inside the
    commands. The time itself is measured by `devmesh bench cli`; this checks the cause."""
    for args, stdin in ((["--help"], ""), (["parse"], "Connection to 10.0.0.1:3306 refused\n"),
                        (["incidents", "--json"], ""), (["chat", "--help"], ""), (["services", "status"], ""),
                        (["ship", "--help"], "")):
        heavy = loaded_by(args, stdin) & set(HEAVY)
        assert not heavy, f"devmesh {' '.join(args)} imported {sorted(heavy)}"


def test_the_help_table_says_what_each_command_says():
    import click

    import server

    ctx = click.Context(server.main)
    for name, (_spec, line) in server.COMMANDS.items():
        command = server.main.get_command(ctx, name)
        assert " ".join((command.help or "").split("\n\n")[0].split()) == line, name
    assert server.main.get_command(ctx, "no-such-command") is None
    out = run(["--help"])
    assert out.returncode == 0 and all(name in out.stdout for name in server.COMMANDS)
