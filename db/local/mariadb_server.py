"""The local MariaDB >= 11.7: find or build a server binary, initialise a data dir, run it.

Where the server comes from, in order:
1. `DEVMESH_MARIADBD` (a path), or a `mariadbd` >= 11.7 on PATH;
2. on Debian/Ubuntu as root: a Debian 13 root with MariaDB 11.8 built by debootstrap,
   cached under `~/.cache/devmesh` so every clone on the machine builds it once. Its
   `mariadbd` runs through that root's own dynamic loader, so the data dir can live in
   this clone's state dir (no chroot, no bind mount); only `mariadb-install-db` runs
   chrooted, once, to make a pristine data dir that each new instance copies. The root also
   holds galera-4 and the state-transfer tools for the Galera test cluster (db/local/galera.py,
   which runs its nodes chrooted).
"""
from __future__ import annotations

import fcntl
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from db.local.process import ServiceError
from db.version import MIN_VERSION, UnsupportedServer, check_version

SUITE = "trixie"  # Debian 13: MariaDB 11.8 LTS
_ARCH = {"x86_64": ("x86_64-linux-gnu", "lib64/ld-linux-x86-64.so.2"),
         "aarch64": ("aarch64-linux-gnu", "lib/ld-linux-aarch64.so.1")}


@dataclass
class ServerBinary:
    """How to start mariadbd and how to initialise a data dir for it."""

    source: str                      # "configured" | "PATH" | "debootstrap"
    argv: list[str]                  # the command up to and including mariadbd
    version: str
    extra: list[str] = field(default_factory=list)
    root: Path | None = None         # the Debian root, when source == "debootstrap"


def parse_version(text: str) -> tuple[int, int, str]:
    m = re.search(r"Ver (\d+)\.(\d+)\.(\d+)", text)
    if not m:
        raise ServiceError(f"cannot read a MariaDB version from {text!r}")
    return int(m.group(1)), int(m.group(2)), f"{m.group(1)}.{m.group(2)}.{m.group(3)}"


def _version_of(argv: list[str]) -> tuple[int, int, str]:
    out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    return parse_version(out.stdout + out.stderr)


def find_server(configured: str | None, cache_dir: Path) -> ServerBinary:
    """A usable mariadbd >= 11.7, building the Debian 13 root when nothing else is there."""
    candidates = [("configured", configured)] if configured else []
    on_path = shutil.which("mariadbd")
    if on_path:
        candidates.append(("PATH", on_path))
    for source, path in candidates:
        major, minor, version = _version_of([path])
        if (major, minor) >= MIN_VERSION:
            return ServerBinary(source, [path], version)
        if source == "configured":
            raise ServiceError(f"DEVMESH_MARIADBD={path} is MariaDB {version}; DevMesh needs >= 11.7 "
                               "(VECTOR). Point it at a newer mariadbd or unset it.")
    return _debootstrap_server(cache_dir)


def _debootstrap_server(cache_dir: Path) -> ServerBinary:
    arch = _ARCH.get(platform.machine())
    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root")
    if not Path("/etc/debian_version").exists():
        problems.append("not a Debian/Ubuntu system")
    if not shutil.which("debootstrap"):
        problems.append("debootstrap is not installed (apt-get install debootstrap)")
    if arch is None:
        problems.append(f"unsupported architecture {platform.machine()}")
    if problems:
        raise ServiceError(
            "no MariaDB >= 11.7 available: " + "; ".join(problems) + ". Fix one of: set "
            "DEVMESH_DB_URL=mariadb://user:password@host:port/devmesh to use an existing server; "
            "put a mariadbd >= 11.7 on PATH (or set DEVMESH_MARIADBD); or run `make services` as "
            "root on Debian/Ubuntu so DevMesh can build MariaDB 11.8 with debootstrap.")
    root = ensure_root(cache_dir)
    libdir, loader = arch
    argv = [str(root / loader), "--library-path",
            f"{root}/lib/{libdir}:{root}/usr/lib/{libdir}", str(root / "usr/sbin/mariadbd")]
    extra = [f"--basedir={root}/usr", f"--plugin-dir={root}/usr/lib/mysql/plugin",
             f"--lc-messages-dir={root}/usr/share/mariadb",
             f"--character-sets-dir={root}/usr/share/mariadb/charsets"]
    _, _, version = _version_of(argv)
    try:                                  # Debian 13 serves whatever patch release it has that day
        check_version(version)
    except UnsupportedServer as exc:
        raise ServiceError(f"the Debian 13 root at {root} holds {exc}") from None
    return ServerBinary("debootstrap", argv, version, extra, root)


# what the root must hold besides mariadb-server: the wsrep provider and the tools the
# joiner's state transfer (wsrep_sst_rsync) runs inside the root
ROOT_PACKAGES = ("mariadb-server", "galera-4", "rsync", "socat", "iproute2", "procps")
GALERA_FILES = ("usr/lib/galera/libgalera_smm.so", "usr/bin/rsync", "usr/bin/socat", "usr/bin/ps")


def ensure_root(cache_dir: Path) -> Path:
    """The cached Debian 13 root with ROOT_PACKAGES (mariadb-server, and galera-4 with what
    its state transfer runs), built once (about a minute); a root cached before a package was
    named here gets it added by apt inside the root (ensure_galera)."""
    root = cache_dir / f"mariadb-{SUITE}-root"
    if (root / "usr/sbin/mariadbd").exists():
        ensure_galera(root, cache_dir)
        return root
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".debootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # two clones starting at once build it once
        if (root / "usr/sbin/mariadbd").exists():
            return root
        partial = cache_dir / f"mariadb-{SUITE}-root.partial"
        shutil.rmtree(partial, ignore_errors=True)
        print(f"building MariaDB 11.8 root with debootstrap into {root} (once, ~1 min)...", flush=True)
        proc = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(ROOT_PACKAGES)}", SUITE,
                               str(partial)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ServiceError("debootstrap of Debian 13 failed (needs the Debian package registry); "
                               f"last output:\n{(proc.stdout + proc.stderr)[-2000:]}")
        partial.rename(root)
    return root


def missing_galera(root: Path) -> list[str]:
    return [f for f in GALERA_FILES if not (root / f).exists()]


def ensure_galera(root: Path, cache_dir: Path) -> None:
    """Idempotent: when a cached root lacks one of GALERA_FILES, apt-get installs
    ROOT_PACKAGES inside it (chrooted; nothing to do, and no network, when all are there)."""
    if not missing_galera(root):
        return
    with open(cache_dir / ".debootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # one clone adds them; the others wait, then see them
        if not missing_galera(root):
            return
        print(f"adding {' '.join(ROOT_PACKAGES[1:])} to the MariaDB root {root} (once)...", flush=True)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *ROOT_PACKAGES]):
            proc = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise ServiceError(f"apt-get inside {root} failed ({' '.join(argv[:2])}; needs the Debian "
                                   f"package registry); last output:\n{(proc.stdout + proc.stderr)[-2000:]}")
        if missing_galera(root):
            raise ServiceError(f"{root} still lacks {missing_galera(root)} after apt-get install")


def init_datadir(server: ServerBinary, datadir: Path, cache_dir: Path) -> None:
    """Create a fresh system data dir at `datadir` (copied from a cached pristine one)."""
    if (datadir / "mysql").is_dir():
        return
    datadir.parent.mkdir(parents=True, exist_ok=True)
    if server.root is None:
        installer = shutil.which("mariadb-install-db") or str(Path(server.argv[-1]).parent.parent
                                                              / "bin/mariadb-install-db")
        user = ["--user=root"] if os.geteuid() == 0 else []
        _run_install_db([installer, f"--datadir={datadir}", *user], server.argv[-1])
        return
    template = cache_dir / f"mariadb-datadir-{server.version}"
    if not (template / "mysql").is_dir():
        inside = Path("var/lib/devmesh-pristine")
        shutil.rmtree(server.root / inside, ignore_errors=True)
        _run_install_db(["chroot", str(server.root), "/usr/bin/mariadb-install-db", "--user=root",
                         f"--datadir=/{inside}"], "mariadb-install-db")
        shutil.rmtree(template, ignore_errors=True)
        shutil.move(str(server.root / inside), template)
    shutil.copytree(template, datadir, symlinks=True)


def _run_install_db(argv: list[str], what: str) -> None:
    argv = [*argv, "--force", "--skip-name-resolve", "--skip-test-db",
            "--auth-root-authentication-method=socket"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ServiceError(f"{what}: mariadb-install-db failed:\n{(proc.stdout + proc.stderr)[-2000:]}")


def server_argv(server: ServerBinary, datadir: Path, port: int, socket_path: Path) -> list[str]:
    """The full command line: loopback only, own port, socket, data and temp dirs, small
    footprint. The temp dir is our own: another mariadbd sharing /tmp deletes our temp tables."""
    user = ["--user=root"] if os.geteuid() == 0 else []
    tmpdir = datadir.parent / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    return [*server.argv, "--no-defaults", *server.extra, *user,
            f"--datadir={datadir}", f"--port={port}", "--bind-address=127.0.0.1",
            f"--socket={socket_path}", f"--pid-file={datadir.parent / 'mariadbd.pid'}", f"--tmpdir={tmpdir}",
            "--skip-name-resolve", "--character-set-server=utf8mb4",
            "--innodb-buffer-pool-size=512M", "--innodb-log-file-size=128M",
            "--innodb-flush-log-at-trx-commit=2", "--max-connections=300",
            "--mhnsw-max-cache-size=268435456"]
