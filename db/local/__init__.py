"""Manage the local MariaDB and FalkorDB: `devmesh services up|down|status`.

Idempotent: `up` starts what is not running, provisions the application and read-only
users (passwords generated once, kept in the state dir with mode 0600) and leaves running
services alone. A configured `DEVMESH_DB_URL` / `DEVMESH_GRAPH_URL` means that service is
not ours to manage.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import mariadb

from db.local import falkordb_server as falkor
from db.local import mariadb_server as maria
from db.local.process import ServiceError, port_open, running_pid, spawn, stop, wait_ready
from db.settings import ServicesSettings, load_credentials

__all__ = ["ServiceError", "MariaDBInstance", "up", "down", "status"]

APP_USER, RO_USER, DATABASE = "devmesh", "devmesh_ro", "devmesh"


@dataclass
class MariaDBInstance:
    """One managed mariadbd: its own directory (data, socket, pid, log) and port."""

    home: Path
    port: int
    cache_dir: Path
    configured_binary: str | None = None

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def socket(self) -> Path:
        return self.home / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        return self.home / "server.pid"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def running(self) -> bool:
        return running_pid(self.pid_file) is not None

    def start(self) -> str:
        """Start if not running; returns what happened, for people."""
        if self.running() and port_open("127.0.0.1", self.port):
            return "already running"
        if port_open("127.0.0.1", self.port):
            raise ServiceError(f"port {self.port} is taken by another process; set "
                               "DEVMESH_MARIADB_PORT to a free port")
        server = maria.find_server(self.configured_binary, self.cache_dir)
        maria.init_datadir(server, self.datadir, self.cache_dir)
        spawn(maria.server_argv(server, self.datadir, self.port, self.socket), self.log, self.pid_file)
        wait_ready(lambda: self.socket.exists() and port_open("127.0.0.1", self.port),
                   self.pid_file, self.log, f"MariaDB ({server.source}, {server.version})")
        return f"started MariaDB {server.version} ({server.source})"

    def stop(self) -> bool:
        return stop(self.pid_file)

    def root_connection(self) -> mariadb.Connection:
        """root over the unix socket (root has no TCP login)."""
        return mariadb.connect(unix_socket=str(self.socket), user="root", autocommit=True)

    def provision(self, credentials: dict[str, str]) -> None:
        """Drop anonymous users; create the database, the app user and the read-only user."""
        conn = self.root_connection()
        try:
            cur = conn.cursor()
            cur.execute("SELECT user, host FROM mysql.user WHERE user = ''")
            for user, host in cur.fetchall():
                cur.execute(f"DROP USER '{user}'@'{host}'")
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
            for user, password, grant in (
                (credentials["app_user"], credentials["app_password"], "ALL PRIVILEGES"),
                (credentials["ro_user"], credentials["ro_password"], "SELECT"),
            ):
                for host in ("127.0.0.1", "localhost"):
                    cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY ?", (password,))
                    cur.execute(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY ?", (password,))
                    # `devmesh%` covers the main database and the isolated test/eval databases
                    cur.execute(f"GRANT {grant} ON `{DATABASE}%`.* TO '{user}'@'{host}'")
        finally:
            conn.close()


def _credentials(settings: ServicesSettings) -> dict[str, str]:
    try:
        return load_credentials(settings)
    except RuntimeError:
        creds = {"app_user": APP_USER, "app_password": secrets.token_urlsafe(18),
                 "ro_user": RO_USER, "ro_password": secrets.token_urlsafe(18)}
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(settings.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)
        return creds


def managed_mariadb(settings: ServicesSettings) -> MariaDBInstance:
    return MariaDBInstance(settings.state_dir / "mariadb", settings.mariadb_port,
                           settings.cache_dir, settings.mariadbd)


def _falkordb_paths(settings: ServicesSettings) -> tuple[Path, Path, Path]:
    home = settings.state_dir / "falkordb"
    return home, home / "server.pid", home / "server.log"


def up(settings: ServicesSettings, manage_db: bool = True, manage_graph: bool = True) -> list[str]:
    """Start (or leave running) the managed services; returns one line per service.

    Callers at once (two pytest workers, `make test` beside `make run`) take turns on a lock
    in the state dir: without it both saw nothing running, both spawned, and the loser's
    pid (a process that died on InnoDB's lock) was the one left in server.pid.
    """
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / ".services.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _up(settings, manage_db, manage_graph)


def _up(settings: ServicesSettings, manage_db: bool, manage_graph: bool) -> list[str]:
    lines = []
    if manage_db:
        instance = managed_mariadb(settings)
        what = instance.start()
        instance.provision(_credentials(settings))
        lines.append(f"mariadb: {what} on 127.0.0.1:{settings.mariadb_port}")
    else:
        lines.append("mariadb: DEVMESH_DB_URL is set; not managed here")
    if manage_graph:
        home, pid_file, log = _falkordb_paths(settings)
        if running_pid(pid_file) and port_open("127.0.0.1", settings.falkordb_port):
            lines.append(f"falkordb: already running on 127.0.0.1:{settings.falkordb_port}")
        else:
            if port_open("127.0.0.1", settings.falkordb_port):
                raise ServiceError(f"port {settings.falkordb_port} is taken by another process; set "
                                   "DEVMESH_FALKORDB_PORT to a free port")
            home.mkdir(parents=True, exist_ok=True)
            spawn(falkor.server_argv(home, settings.falkordb_port), log, pid_file)
            wait_ready(lambda: port_open("127.0.0.1", settings.falkordb_port), pid_file, log, "FalkorDB")
            lines.append(f"falkordb: started on 127.0.0.1:{settings.falkordb_port}")
    else:
        lines.append("falkordb: DEVMESH_GRAPH_URL is set; not managed here")
    return lines


def down(settings: ServicesSettings) -> list[str]:
    lines = []
    stopped = managed_mariadb(settings).stop()
    lines.append(f"mariadb: {'stopped' if stopped else 'not running'}")
    stopped = stop(_falkordb_paths(settings)[1])
    lines.append(f"falkordb: {'stopped' if stopped else 'not running'}")
    return lines


def status(settings: ServicesSettings) -> list[dict[str, str]]:
    """Each managed service: address, state, version and data dir."""
    rows = []
    instance = managed_mariadb(settings)
    row = {"service": "mariadb", "address": f"127.0.0.1:{settings.mariadb_port}",
           "datadir": str(instance.datadir), "state": "stopped", "version": "-"}
    if instance.running():
        row["state"] = "running"
        try:
            conn = instance.root_connection()
            cur = conn.cursor()
            cur.execute("SELECT VERSION()")
            row["version"] = cur.fetchone()[0]
            conn.close()
        except mariadb.Error as exc:
            row["state"] = f"running, not answering ({exc})"
    rows.append(row)
    home, pid_file, _ = _falkordb_paths(settings)
    row = {"service": "falkordb", "address": f"127.0.0.1:{settings.falkordb_port}",
           "datadir": str(home), "state": "stopped", "version": "-"}
    if running_pid(pid_file):
        row["state"] = "running"
        try:
            redis_version, module_version = falkor.versions("127.0.0.1", settings.falkordb_port)
            row["version"] = f"FalkorDB {module_version} (redis {redis_version})"
        except Exception as exc:  # noqa: BLE001 - status reports whatever went wrong
            row["state"] = f"running, not answering ({exc})"
    rows.append(row)
    return rows
