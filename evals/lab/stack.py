"""Start and stop the lab's real software on loopback, each in its own process group.

nginx -> shop-web (Python) -> mariadb, stock-api (Node) -> redis <- fulfil-worker (Python),
plus the load generator. Daemons write their own log files (nginx access/error, redis,
MariaDB error and slow logs); the three small services write to stdout, captured line by
line with the time each line arrived, as journald would.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from evals.lab.services.sql import load as load_sql
from evals.lab.topology import SERVICES

LAB_ROOT = Path("/tmp/devmesh-lab")
HERE = Path(__file__).resolve().parent / "services"
CACHE = Path.home() / ".cache" / "devmesh"
DB_PASSWORD = "shop-lab"          # as in services/shop.sql


class LabError(RuntimeError):
    pass


class Proc:
    """One process (group) of the lab; stdout optionally captured with arrival times."""

    def __init__(self, name: str, argv: list[str], *, env: dict | None = None, capture: Path | None = None,
                 stderr: Path | None = None, cpus: str | None = None):
        self.name, self.argv, self.env, self.capture, self.stderr = name, argv, env, capture, stderr
        self.cpus = cpus
        self.p: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        argv = ["taskset", "-c", self.cpus, *self.argv] if self.cpus else self.argv
        env = {**os.environ, "TZ": "UTC", "PYTHONUNBUFFERED": "1", **(self.env or {})}
        if self.capture:
            self.p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()
        else:
            err = open(self.stderr, "ab") if self.stderr else subprocess.DEVNULL
            self.p = subprocess.Popen(argv, env=env, stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                                      start_new_session=True)

    def _read(self) -> None:
        with open(self.capture, "a", encoding="utf-8") as out:
            for raw in iter(self.p.stdout.readline, b""):
                out.write(f"{time.time_ns() // 1000}\t{raw.decode('utf-8', 'replace').rstrip(chr(10))}\n")
                out.flush()

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p is not None and self.p.poll() is None

    def signal(self, sig: int) -> None:
        if self.p is not None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 8.0) -> None:
        if self.p is None:
            return
        self.signal(signal.SIGCONT)
        if self.p.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal(signal.SIGKILL)       # whatever is left of the group (children too)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self._reader:
            self._reader.join(5)


def wait_port(addr: str, port: int, timeout: float = 30.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise LabError(f"{proc.name} exited with {proc.p.returncode} before listening on {addr}:{port}")
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise LabError(f"nothing listens on {addr}:{port} after {timeout:.0f}s")


def port_free(addr: str, port: int) -> bool:
    try:
        socket.create_connection((addr, port), timeout=0.5).close()
        return False
    except OSError:
        return True


def inner_addr(addr: str) -> str:
    """Where a service listens when a delay relay takes its public address."""
    return addr.replace("127.0.1.", "127.0.2.")


# --- MariaDB ---------------------------------------------------------------------------

def mariadb_server():
    from db.local.mariadb_server import find_server

    return find_server(os.environ.get("DEVMESH_MARIADBD"), CACHE)


def mariadb_argv(server, datadir: Path, logdir: Path, sock: Path, addr: str, port: int) -> list[str]:
    user = ["--user=root"] if os.geteuid() == 0 else []
    return [*server.argv, "--no-defaults", *server.extra, *user, f"--datadir={datadir}", f"--port={port}",
            f"--bind-address={addr}", f"--socket={sock}", f"--pid-file={sock.parent / 'mariadbd.pid'}",
            f"--log-error={logdir / 'error.log'}", "--log-bin=mysql-bin", "--server-id=1", "--binlog-format=ROW",
            "--slow-query-log=1", f"--slow-query-log-file={logdir / 'slow.log'}", "--long-query-time=1",
            "--skip-name-resolve", "--character-set-server=utf8mb4", "--innodb-buffer-pool-size=64M",
            "--max-connections=120", "--wait-timeout=120"]




def ensure_pristine(server) -> Path:
    """A data dir with the shop schema, 40 products and 200 orders, made once and copied per case."""
    pristine = LAB_ROOT / f"mariadb-pristine-{server.version}"
    if (pristine / ".ready").exists():
        return pristine
    import mariadb

    shutil.rmtree(pristine, ignore_errors=True)
    template = sorted(glob.glob(str(CACHE / f"mariadb-datadir-{server.version}")))
    if template:
        shutil.copytree(template[0], pristine, symlinks=True)
    else:
        from db.local.mariadb_server import init_datadir
        init_datadir(server, pristine, CACHE)
    work = LAB_ROOT / "pristine-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sock = work / "mysqld.sock"
    proc = Proc("mariadb-init", mariadb_argv(server, pristine, work, sock, "127.0.0.1", 7199), stderr=work / "stderr")
    proc.start()
    try:
        wait_port("127.0.0.1", 7199, 60, proc)
        conn = mariadb.connect(unix_socket=str(sock), user="root", autocommit=True)
        cur = conn.cursor()
        sql = load_sql()
        for name in ("schema_database", "schema_products", "schema_orders", "schema_user", "schema_grant"):
            cur.execute(sql[name])
        words = ["lamp", "mug", "kettle", "chair", "desk", "shelf", "rug", "clock", "vase", "fan"]
        cur.executemany(sql["seed_product"],
                        [(i, f"{words[i % 10]} model {i}", 5 + (i * 37) % 120) for i in range(1, 41)])
        cur.executemany(sql["seed_order"],
                        [((i * 7) % 40 + 1, i % 3 + 1) for i in range(200)])
        cur.execute(sql["reset_binlog"])
        conn.close()
    finally:
        proc.stop(60)
    for name in glob.glob(str(pristine / "mysql-bin.*")):
        os.unlink(name)
    (pristine / ".ready").touch()
    shutil.rmtree(work, ignore_errors=True)
    return pristine


# --- the stack -------------------------------------------------------------------------

class Stack:
    def __init__(self, run: Path, *, pin: dict[str, str] | None = None, relay: str | None = None,
                 relay_delay_ms: float = 0.0, tmpfs: dict[str, int] | None = None):
        """pin: service -> cpu list (taskset); relay: a service whose address a delay relay takes;
        tmpfs: service -> size in MB of a tmpfs mounted on its data dir."""
        self.run = run
        self.pin = pin or {}
        self.relay, self.relay_delay_ms = relay, relay_delay_ms
        self.tmpfs = tmpfs or {}
        self.procs: dict[str, Proc] = {}
        self.mounts: list[Path] = []
        self.flags = run / "flags"
        self.logs = run / "logs"

    def data_dir(self, name: str) -> Path:
        return self.run / name / "data"

    def bind(self, name: str) -> str:
        addr = SERVICES[name].addr
        return inner_addr(addr) if name == self.relay else addr

    def _mkdirs(self) -> None:
        if self.run.exists():
            subprocess.run(["umount", "-l", *[str(p) for p in self.run.glob("*/data")]], capture_output=True)
            shutil.rmtree(self.run)
        for name in SERVICES:
            d = self.data_dir(name)
            d.mkdir(parents=True)
            if name in self.tmpfs:
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.tmpfs[name]}m,mode=0755", "lab-" + name,
                                str(d)], check=True)
                self.mounts.append(d)
        for d in (self.flags, self.logs, self.run / "nginx" / "tmp"):
            d.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        for name, s in SERVICES.items():
            if s.port and not port_free(s.addr, s.port):
                raise LabError(f"{s.addr}:{s.port} is already in use (another lab running?)")
        self._mkdirs()
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise

    def _start_all(self) -> None:
        py = sys.executable
        server = mariadb_server()
        pristine = ensure_pristine(server)
        db = SERVICES["mariadb"]
        datadir = self.data_dir("mariadb")
        shutil.copytree(pristine, datadir, symlinks=True, dirs_exist_ok=True)
        (datadir / ".ready").unlink()
        mlog = self.logs / "mariadb"
        mlog.mkdir()
        self._add(Proc("mariadb", mariadb_argv(server, datadir, mlog, self.run / "mariadb" / "mysqld.sock",
                                                self.bind("mariadb"), db.port),
                       stderr=mlog / "stderr", cpus=self.pin.get("mariadb")))
        wait_port(self.bind("mariadb"), db.port, 60, self.procs["mariadb"])

        rd = SERVICES["redis"]
        rlog = self.logs / "redis"
        rlog.mkdir()
        conf = self.run / "redis" / "redis.conf"
        conf.write_text("\n".join([
            f"bind {self.bind('redis')}", f"port {rd.port}", "daemonize no", "protected-mode no",
            f"pidfile {self.run / 'redis' / 'redis.pid'}", f"logfile {rlog / 'redis-server.log'}", "loglevel notice",
            f"dir {self.data_dir('redis')}", "appendonly yes", "appendfsync everysec", "save 30 200",
            "maxmemory 128mb", "maxmemory-policy noeviction", ""]))
        self._add(Proc("redis", ["redis-server", str(conf)], stderr=rlog / "stderr", cpus=self.pin.get("redis")))
        wait_port(self.bind("redis"), rd.port, 20, self.procs["redis"])

        st = SERVICES["stock-api"]
        self._add(Proc("stock-api", ["node", str(HERE / "stock_api.js")], capture=self.logs / "stock-api.out",
                       env={"STOCK_BIND": self.bind("stock-api"), "STOCK_PORT": str(st.port),
                            "REDIS_HOST": rd.addr, "REDIS_PORT": str(rd.port), "LAB_HOSTNAME": st.host,
                            "STOCK_FLAG": str(self.flags / "stock-api.raise")},
                       cpus=self.pin.get("stock-api")))
        self._add(Proc("fulfil-worker", [py, str(HERE / "fulfil_worker.py")], capture=self.logs / "fulfil-worker.out",
                       env={"REDIS_HOST": rd.addr, "REDIS_PORT": str(rd.port),
                            "WORKER_DATA_DIR": str(self.data_dir("fulfil-worker")),
                            "WORKER_FLAG": str(self.flags / "fulfil-worker.raise")},
                       cpus=self.pin.get("fulfil-worker")))
        wait_port(self.bind("stock-api"), st.port, 20, self.procs["stock-api"])

        sw = SERVICES["shop-web"]
        self._add(Proc("shop-web", [py, str(HERE / "shop_web.py")], capture=self.logs / "shop-web.out",
                       env={"SHOP_BIND": self.bind("shop-web"), "SHOP_PORT": str(sw.port),
                            "STOCK_HOST": st.addr, "STOCK_PORT": str(st.port), "DB_HOST": db.addr,
                            "DB_PORT": str(db.port), "DB_PASSWORD": DB_PASSWORD,
                            "SHOP_DATA_DIR": str(self.data_dir("shop-web")),
                            "SHOP_FLAG": str(self.flags / "shop-web.raise")},
                       cpus=self.pin.get("shop-web")))
        wait_port(self.bind("shop-web"), sw.port, 20, self.procs["shop-web"])

        ng = SERVICES["nginx"]
        nlog = self.logs / "nginx"
        nlog.mkdir()
        conf = self.run / "nginx" / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(run=self.run / "nginx", log=nlog, bind=self.bind("nginx"), port=ng.port,
                                           upstream=f"{sw.addr}:{sw.port}"))
        self._add(Proc("nginx", ["nginx", "-p", str(self.run / "nginx"), "-c", str(conf), "-e", str(nlog / "error.log"),
                                 "-g", "daemon off;"], stderr=nlog / "stderr", cpus=self.pin.get("nginx")))
        wait_port(self.bind("nginx"), ng.port, 20, self.procs["nginx"])

        if self.relay:
            s = SERVICES[self.relay]
            self._add(Proc("relay", [py, str(HERE / "netdelay.py"), s.addr, str(s.port), inner_addr(s.addr),
                                     str(s.port), str(self.relay_delay_ms)], stderr=self.logs / "relay.stderr",
                           cpus=self.pin.get("relay")))
            wait_port(s.addr, s.port, 20, self.procs["relay"])

    def _add(self, proc: Proc) -> None:
        self.procs[proc.name] = proc
        proc.start()

    def start_load(self, rate: float, seed: int) -> None:
        ng = SERVICES["nginx"]
        self._add(Proc("loadgen", [sys.executable, str(HERE / "loadgen.py"), "--host", ng.addr, "--port", str(ng.port),
                                   "--rate", f"{rate:.1f}", "--seed", str(seed)],
                       stderr=self.logs / "loadgen.out", cpus=self.pin.get("loadgen")))

    def stop(self) -> None:
        for name in ("loadgen", "stress", "relay", "nginx", "shop-web", "fulfil-worker", "stock-api", "redis",
                     "mariadb"):
            proc = self.procs.get(name)
            if proc:
                proc.stop(30 if name == "mariadb" else 8)
        for d in self.mounts:
            subprocess.run(["umount", str(d)], capture_output=True)
        self.mounts = []


_NGINX_CONF = """\
user root;
worker_processes 2;
pid {run}/nginx.pid;
error_log {log}/error.log;

events {{
    worker_connections 768;
}}

http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    server_tokens off;
    default_type application/octet-stream;

    log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                    '"$http_referer" "$http_user_agent" rt=$request_time uct=$upstream_connect_time '
                    'urt=$upstream_response_time trace_id=$request_id';
    access_log {log}/access.log main;

    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;

    map $request_id $span_id {{
        "~^(?<head>.{{16}})" $head;
    }}

    upstream shop_web {{
        server {upstream} max_fails=3 fail_timeout=10s;
        keepalive 16;
    }}

    server {{
        listen {bind}:{port};
        server_name shop.lab;

        location /api/ {{
            proxy_pass http://shop_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header traceparent "00-$request_id-$span_id-01";
            proxy_connect_timeout 2s;
            proxy_read_timeout 6s;
        }}

        location / {{
            return 404;
        }}
    }}
}}
"""
