"""Issue 24 (3), bug: SIGTERM to `devmesh local-llm serve` left the llama.cpp child running
(866 MB, still listening). Cause: SIGTERM's default action ended devmesh before its cleanup
ran. Fix: evals/local_llm.serve_until_signalled stops the child (its process group) on
SIGTERM or SIGINT; `--port` picks the port and `--command` (DEVMESH_LOCAL_LLM_COMMAND) the
server, so this test runs a tiny OpenAI-compatible stand-in instead of the real model."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals.live import free_port

REPO = Path(__file__).resolve().parent.parent
DEVMESH = Path(sys.executable).parent / "devmesh"
FAKE = '''
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, pidfile = int(sys.argv[1]), sys.argv[2]

class Models(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "stand-in", "object": "model", "owned_by": "llamacpp"}]})
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", port), Models)
with open(pidfile + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.replace(pidfile + ".tmp", pidfile)
server.serve_forever()
'''


def until(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_devmesh_stops_the_model_server_child(tmp_path, sig):
    fake, pidfile, port = tmp_path / "fake_llm.py", tmp_path / "child.pid", free_port()
    fake.write_text(FAKE)
    command = f"{sys.executable} {fake} {{port}} {pidfile}"
    proc = subprocess.Popen([str(DEVMESH), "local-llm", "serve", "--port", str(port)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DEVMESH_LOCAL_LLM_COMMAND": command})
    try:
        line = proc.stdout.readline()                       # printed once the server answers /v1/models
        assert f"DEVMESH_LLM_URL=http://127.0.0.1:{port}/v1" in line, proc.stderr.read() if not line else line
        child = int(until(lambda: pidfile.exists() and pidfile.read_text(), 10, "the child's pid"))
        assert running(child) and listening(port)
        proc.send_signal(sig)
        assert proc.wait(30) == 0
        until(lambda: not running(child), 15, "the child to end")
        until(lambda: not listening(port), 15, "the port to close")
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        if pidfile.exists() and running(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_server_that_cannot_start_is_one_line(tmp_path):
    out = subprocess.run([str(DEVMESH), "local-llm", "serve", "--port", str(free_port()), "--command",
                          f"{sys.executable} -c 'import sys; sys.exit(3)'"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "exited (3)" in out.stderr
