"""Issue 24 (3), bug: a dead database, a missing eval case or a bad setting printed a stack
trace and (for `eval --case`) exited 0. Fix: server.LazyGroup.invoke runs every command in
graphs/terminal.one_line, which turns a failure the user can fix into one `Error:` line that
names it and the fix, exit status 1. Run as a user runs it: `.venv/bin/devmesh`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from evals.live import free_port
from graphs.terminal import describe, one_line

REPO = Path(__file__).resolve().parent.parent
DEVMESH = Path(sys.executable).parent / "devmesh"


def devmesh(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(DEVMESH), *args], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, **(env or {})})


def one_error_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("args", [["incidents"], ["detect", "--once"], ["investigate", "1"], ["migrate"]])
def test_a_dead_database_is_one_line_naming_it(args):
    port = free_port()                                    # nothing listens there
    line = one_error_line(devmesh(*args, env={"DEVMESH_DB_URL": f"mariadb://devmesh:pw@127.0.0.1:{port}/devmesh"}))
    assert "MariaDB" in line and f"127.0.0.1:{port}" in line and "DEVMESH_DB_URL" in line


def test_a_missing_eval_case_is_one_line_and_exit_1():
    out = devmesh("eval", "--case", "case-does-not-exist")
    line = one_error_line(out)
    assert out.returncode == 1 and "case-does-not-exist" in line and "evals/cases" in line


def test_a_bad_setting_names_its_environment_variable():
    line = one_error_line(devmesh("incidents", env={"DEVMESH_DB_POOL_SIZE": "many"}))
    assert "DEVMESH_DB_POOL_SIZE" in line


@pytest.mark.parametrize("args, names", [
    (["incidents", "show", "abc"], "INCIDENT_ID"),
    (["incidents", "snooze", "1", "--for", "a while"], "--for"),
    (["investigate", "--at", "not-a-time"], "not-a-time"),
    (["event", "1", "--context", "500"], "--context"),
    (["import", "/nonexistent/devmesh-lines.jsonl"], "/nonexistent/devmesh-lines.jsonl"),
])
def test_a_bad_argument_is_one_line_and_a_usage_exit(args, names):
    out = devmesh(*args)
    assert names in one_error_line(out) and out.returncode == 2


def test_a_server_that_is_not_there_is_one_line():
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["incidents", "ack", "1"], ["event", "1"], ["chat", "hello"], ["demo", "--url", url]):
        line = one_error_line(devmesh(*args, env={"DEVMESH_URL": url}))
        assert url.split("//")[1] in line, (args, line)


def test_a_bug_is_still_one_line_unless_debugging(monkeypatch):
    with pytest.raises(click.ClickException) as caught, one_line():
        {}["missing"]
    assert caught.value.message.startswith("internal error: KeyError") and "DEVMESH_DEBUG=1" in caught.value.message
    monkeypatch.setenv("DEVMESH_DEBUG", "1")
    with pytest.raises(KeyError), one_line():
        {}["missing"]
    assert describe(FileNotFoundError(2, "No such file or directory", "/x/y")).endswith("/x/y; check the path")
