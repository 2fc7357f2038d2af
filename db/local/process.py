"""Detached service processes: spawn with a pid file and a log, check, wait for a port, stop."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be provisioned or started; the message says how to fix it."""


def spawn(argv: list[str], log_path: Path, pid_path: Path) -> int:
    """Start `argv` in its own session, stdin closed, output to `log_path`; record its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    pid_path.write_text(str(proc.pid))
    return proc.pid


def running_pid(pid_path: Path) -> int | None:
    """The pid in `pid_path` if that process is alive (and not a zombie), else None."""
    try:
        pid = int(pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    return None if state == "Z" else pid


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_ready(check, pid_path: Path, log_path: Path, what: str, timeout_s: float = 60) -> None:
    """Poll `check()` until true; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if running_pid(pid_path) is None:
            raise ServiceError(f"{what} exited during start; last log lines:\n{tail(log_path)}")
        time.sleep(0.1)
    raise ServiceError(f"{what} did not become ready in {timeout_s:.0f}s; last log lines:\n"
                       f"{tail(log_path)}")


def stop(pid_path: Path, timeout_s: float = 30) -> bool:
    """SIGTERM the process in `pid_path`, SIGKILL after `timeout_s`. True if one was running."""
    pid = running_pid(pid_path)
    if pid is None:
        pid_path.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while running_pid(pid_path) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if running_pid(pid_path) is not None:
        os.kill(pid, signal.SIGKILL)
    pid_path.unlink(missing_ok=True)
    return True


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"
