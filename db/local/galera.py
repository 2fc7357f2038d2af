"""A throwaway 3-node MariaDB Galera cluster on loopback, for the scale-out test (issue 20).

Every node is the Debian 13 root's own mariadbd with galera-4 (mariadb_server.ensure_root),
run chrooted into that root as its `mysql` user, so the joiner's state transfer (wsrep_sst_rsync: rsync, socat,
ps, ss) runs the root's tools, not the host's. Each node runs in a private mount namespace
(`unshare --mount`) that mounts /proc inside the root, binds the node's own directory (under
the caller's temp dir) at /run/devmesh-galera and the host's /etc/hosts over the root's: nothing is mounted on the host, the
mounts end with the process, and the shared cached root only gains those empty mount points.

Ports are chosen free per node: SQL, group communication (gcomm), IST and SST. Node 0
bootstraps (`--wsrep-new-cluster`), the others join by rsync SST; `kill` is a SIGKILL and
`start` again rejoins (IST from the gcache when the donor still has the missing writesets,
else SST).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import mariadb

from db.local import MariaDBInstance
from db.local import mariadb_server as maria
from db.local.process import ServiceError, running_pid, spawn, tail

INSIDE = "/run/devmesh-galera"           # where a node sees its own directory, inside the root
PROVIDER = "usr/lib/galera/libgalera_smm.so"
# a dead node is suspected after 3 s and dropped from the view after 6 s (defaults 5 s / 15 s)
PROVIDER_OPTIONS = ("gcache.size=64M;gcache.recover=yes;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;"
                    "evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S")
# /etc/hosts too: the root has none, and mariadbd's lookup of this host's name would wait on DNS
_LAUNCH = ('r=$1; h=$2; shift 2; mount -t proc proc "$r/proc" && mount --bind "$h" "$r' + INSIDE + '" '
           '&& mount --bind /etc/hosts "$r/etc/hosts" && exec chroot "$r" "$@"')


class GaleraUnavailable(ServiceError):
    """Galera cannot run here; the message says how to fix it."""


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class GaleraNode(MariaDBInstance):
    index: int = 0
    gcomm_port: int = 0
    ist_port: int = 0
    sst_port: int = 0
    cluster: "GaleraCluster | None" = field(default=None, repr=False)

    def start(self, bootstrap: bool = False, donor: str | None = None) -> str:
        """Start this node (bootstrap: a new cluster of one) and wait until it is Synced."""
        if self.running():
            return "already running"
        c = self.cluster
        if bootstrap and not (self.datadir / "mysql").is_dir():
            self.home.mkdir(parents=True, exist_ok=True)
            maria.init_datadir(c.server, self.datadir, self.cache_dir)
        self.spawn(bootstrap, donor)
        self.wait_synced(c.timeout_s)
        return "started"

    def spawn(self, bootstrap: bool = False, donor: str | None = None) -> None:
        """Start mariadbd without waiting (donor: the node name to take a state transfer from)."""
        c = self.cluster
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "tmp").mkdir(exist_ok=True)
        self.datadir.mkdir(exist_ok=True)
        _chown_tree(self.home, *c.mysql_ids)
        args = self.server_args(bootstrap) + ([f"--wsrep-sst-donor={donor}"] if donor else [])
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _LAUNCH, "sh",
                str(c.server.root), str(self.home), *args]
        spawn(argv, self.log, self.pid_file)

    def server_args(self, bootstrap: bool) -> list[str]:
        c = self.cluster
        return ["/usr/sbin/mariadbd", "--no-defaults", "--user=mysql", f"--datadir={INSIDE}/data",
                f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={INSIDE}/mysqld.sock",
                f"--pid-file={INSIDE}/mariadbd.pid", f"--tmpdir={INSIDE}/tmp", "--skip-name-resolve",
                "--character-set-server=utf8mb4", "--innodb-buffer-pool-size=128M",
                "--innodb-flush-log-at-trx-commit=2", "--max-connections=300",
                "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2", "--default-storage-engine=InnoDB",
                "--wsrep-on=ON", f"--wsrep-provider=/{PROVIDER}", f"--wsrep-cluster-name={c.name}",
                f"--wsrep-cluster-address={c.address}", f"--wsrep-node-name=node{self.index}",
                f"--wsrep-node-address=127.0.0.1:{self.gcomm_port}",
                f"--wsrep-node-incoming-address=127.0.0.1:{self.port}",
                f"--wsrep-sst-receive-address=127.0.0.1:{self.sst_port}", "--wsrep-sst-method=rsync",
                f"--wsrep-provider-options=base_port={self.gcomm_port};"
                f"ist.recv_addr=127.0.0.1:{self.ist_port};{PROVIDER_OPTIONS}",
                *(["--wsrep-new-cluster"] if bootstrap else [])]

    def status(self) -> dict[str, str]:
        conn = self.root_connection()
        try:
            cur = conn.cursor()
            cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            return dict(cur.fetchall())
        finally:
            conn.close()

    def wait_synced(self, timeout_s: float, size: int | None = None) -> dict[str, str]:
        """Poll until this node is Synced (and the cluster has `size` members, when given)."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, str] | str = "no answer yet"
        while time.monotonic() < deadline:
            if running_pid(self.pid_file) is None:
                raise ServiceError(f"Galera node {self.index} exited; last log lines:\n{tail(self.log, 30)}")
            if self.socket.exists():
                try:
                    last = self.status()
                    if last.get("wsrep_local_state_comment") == "Synced" and last.get("wsrep_ready") == "ON" \
                            and (size is None or int(last.get("wsrep_cluster_size", 0)) == size):
                        return last
                except mariadb.Error as exc:
                    last = str(exc)
            time.sleep(0.1)
        raise ServiceError(f"Galera node {self.index} not Synced in {timeout_s:.0f} s ({last}); "
                           f"last log lines:\n{tail(self.log, 30)}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to the group; the others drop it after the timeouts."""
        pid = running_pid(self.pid_file)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while running_pid(self.pid_file) is not None and time.monotonic() < deadline:
                time.sleep(0.02)
        self.pid_file.unlink(missing_ok=True)


class GaleraCluster:
    """`size` nodes under `home`; `start()` bootstraps node 0, joins the rest and waits for
    them all Synced in one view; `stop()` ends every node."""

    def __init__(self, home: Path, cache_dir: Path, size: int = 3, timeout_s: float = 60,
                 name: str = "devmesh_test"):
        self.home, self.cache_dir, self.size, self.timeout_s, self.name = home, cache_dir, size, timeout_s, name
        self.server = galera_server(cache_dir)
        self.mysql_ids = _user_ids(self.server.root, "mysql")
        ports = _free_ports(4 * size)
        self.nodes = [GaleraNode(home / f"n{i}", ports[4 * i], cache_dir, None, index=i,
                                 gcomm_port=ports[4 * i + 1], ist_port=ports[4 * i + 2], sst_port=ports[4 * i + 3],
                                 cluster=self) for i in range(size)]
        self.address = "gcomm://" + ",".join(f"127.0.0.1:{n.gcomm_port}" for n in self.nodes)

    def start(self) -> "GaleraCluster":
        """Bootstrap node 0, stop it cleanly and seed the others with a copy of its data dir
        (same cluster id and position, so they join without a state transfer: two rsync SSTs
        one after the other cost ~16 s here), then bootstrap it again and join them all at once."""
        first = self.nodes[0]
        first.start(bootstrap=True)
        first.stop()
        for node in self.nodes[1:]:
            shutil.rmtree(node.home, ignore_errors=True)
            node.home.mkdir(parents=True)
            shutil.copytree(first.datadir, node.datadir, symlinks=True)
        first.start(bootstrap=True)
        for node in self.nodes[1:]:
            node.spawn()
        self.wait_size()
        return self

    def wait_size(self, size: int | None = None) -> None:
        """Every running node Synced in a view of `size` (default: all of them)."""
        size = size or self.size
        for node in self.nodes:
            if node.running():
                node.wait_synced(self.timeout_s, size)

    def provision(self, credentials: dict[str, str]) -> None:
        """Users and the database, made on node 0 (Galera replicates them to the others)."""
        self.nodes[0].provision(credentials)

    def stop(self) -> None:
        """SIGTERM every node at once and wait for them all (one by one, each waits for the
        others to notice it left)."""
        threads = [threading.Thread(target=node.stop) for node in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)


def _user_ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise GaleraUnavailable(f"{root} has no user {user} (is mariadb-server installed in it?)")


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    """The node's files belong to the root's mysql user: the joiner's rsync daemon, started by
    mariadbd, writes the transferred data dir as that user."""
    os.chown(path, uid, gid)
    for parent, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), uid, gid, follow_symlinks=False)


def galera_server(cache_dir: Path) -> maria.ServerBinary:
    """The Debian 13 root's mariadbd with galera-4 and the SST tools; GaleraUnavailable with
    what to do where that cannot be had."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root (the nodes run chrooted in private mount namespaces)")
    for tool in ("unshare", "chroot", "mount"):
        if not shutil.which(tool):
            problems.append(f"`{tool}` is not on PATH (util-linux / coreutils)")
    if problems:
        raise GaleraUnavailable("the Galera test cluster cannot run here: " + "; ".join(problems) +
                                ". Run the tests as root on Debian/Ubuntu (`make test`), which builds "
                                "the Debian 13 root with mariadb-server and galera-4 by debootstrap.")
    try:
        server = maria._debootstrap_server(cache_dir)     # also adds galera-4 to an older cached root
    except ServiceError as exc:
        raise GaleraUnavailable(f"the Galera test cluster needs the Debian 13 MariaDB root: {exc}") from None
    missing = maria.missing_galera(server.root)
    if missing:
        raise GaleraUnavailable(f"{server.root} lacks {missing}; `chroot {server.root} apt-get install "
                                f"{' '.join(maria.ROOT_PACKAGES)}` or remove the root to have it rebuilt")
    (server.root / INSIDE.lstrip("/")).mkdir(parents=True, exist_ok=True)   # the mount points
    (server.root / "etc/hosts").touch(exist_ok=True)
    return server
