"""A real `devmesh serve` process on a free port: for tests and benchmarks over a socket."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, db_url: str, log_path: Path, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url, self.log_path = db_url, log_path
        # no inventory and a graph of its own unless the caller says otherwise
        self.env = {**os.environ, "DEVMESH_DB_URL": db_url, "DEVMESH_EMBED_BACKEND": "hash",
                    "DEVMESH_INVENTORY": "/nonexistent/devmesh-inventory.yaml", "DEVMESH_INFER_INTERVAL_S": "0",
                    "DEVMESH_DETECT_INTERVAL_S": "0",
                    "DEVMESH_GRAPH_NAME": f"devmesh_live_{self.port}", **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(self.port)],
                                     cwd=REPO, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if json.loads(response.read())["dependencies"]["mariadb"]["status"] == "ok":
                        return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError("server did not come up in 30 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(condition, timeout_s: float = 60, what: str = "condition") -> None:
    """Poll a condition (never a fixed sleep) until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
