"""Which MariaDB we talk to: its version, checked at start (>= 11.7, where VECTOR works).

The Debian 13 root takes whatever patch release Debian serves that day, so the version is
read at start, checked, and reported in /health and /info: a drift is visible, not a mystery.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:                          # db.pool pulls in settings; the version check needs none
    from db.pool import Database

MIN_VERSION = (11, 7)


class UnsupportedServer(RuntimeError):
    """The server is older than DevMesh needs, or VECTOR does not work on it."""


def check_version(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a `SELECT VERSION()` or `mariadbd --version` text; raises
    UnsupportedServer below 11.7."""
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text or "")
    if not m:
        raise UnsupportedServer(f"cannot read a MariaDB version from {text!r}")
    found = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if found[:2] < MIN_VERSION:
        raise UnsupportedServer(f"MariaDB {'.'.join(map(str, found))} is too old: DevMesh needs >= 11.7 (native "
                                "VECTOR). Point DEVMESH_DB_URL at a newer server, or unset it to use the managed one.")
    return found


def server_info(db: Database) -> dict:
    """{"version", "supported", "vector"}: the version string, whether it passes the check, and
    whether a VECTOR function answers (probed, not assumed from the number)."""
    version = db.fetchone("SELECT VERSION()")[0]
    try:
        check_version(version)
        supported = True
    except UnsupportedServer:
        supported = False
    try:
        distance = db.fetchone("SELECT VEC_DISTANCE_COSINE(VEC_FromText('[1,0]'), VEC_FromText('[0,1]'))")[0]
        vector = abs(float(distance) - 1.0) < 1e-6
    except Exception:  # noqa: BLE001 - an old server has no such function: that is the answer
        vector = False
    return {"version": version, "supported": supported, "vector": vector}
