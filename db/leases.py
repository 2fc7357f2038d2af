"""Leases: a named lock as a row (name, owner, expires_at) that works on one MariaDB and on
a Galera cluster alike (GET_LOCK is per server and not replicated). Taking one is a single
conditional UPDATE after an INSERT IGNORE of the row: it succeeds when the lease is free,
expired, or already ours (a renewal). On Galera two nodes racing for it conflict on the row;
the loser's commit fails certification (a deadlock error), which counts as not taken.
Each call commits, so the lease is visible to the other nodes at once.

`held(db, name, ttl)` is the whole pattern for a job: wait for the lease, renew it from a
thread of its own (its own one-connection pool, so the job's transaction is never committed
by a renewal and a job holding all its pool's connections does not starve it) every third of the ttl while the job runs, and give it up at the end without ever
hiding the job's own error behind a failed release (a lost connection, a dead node)."""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import mariadb

from db.pool import Database, is_conflict

log = logging.getLogger(__name__)
OWNER = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"   # this process
# what migrations create before anything else: their own lease needs the table (0016 has it too)
TABLE_DDL = ("CREATE TABLE IF NOT EXISTS leases (name VARCHAR(100) NOT NULL PRIMARY KEY, "
             "owner VARCHAR(100) NOT NULL, expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")


def one_off_owner() -> str:
    """An owner for one run of a job (two threads of a process never share a lease)."""
    return f"{OWNER[:80]}:{uuid.uuid4().hex[:8]}"


def acquire(conn, name: str, ttl_s: float, owner: str = OWNER) -> bool:
    """Take or renew lease `name` for `ttl_s` seconds; True when `owner` holds it now."""
    cur = conn.cursor()
    try:
        cur.execute("INSERT IGNORE INTO leases (name, owner, expires_at) "
                    "VALUES (?, '', NOW(6) - INTERVAL 1 SECOND)", (name,))
        cur.execute("UPDATE leases SET owner = ?, expires_at = NOW(6) + INTERVAL ? MICROSECOND "
                    "WHERE name = ? AND (owner = ? OR expires_at < NOW(6))",
                    (owner, int(ttl_s * 1_000_000), name, owner))
        taken = cur.rowcount == 1
        conn.commit()
        return taken
    except mariadb.Error as exc:
        conn.rollback()
        if is_conflict(exc):                        # lost to another node (on Galera: certification)
            return False
        raise


def release(conn, name: str, owner: str = OWNER) -> None:
    """Give lease `name` up if `owner` holds it (it expires now)."""
    cur = conn.cursor()
    cur.execute("UPDATE leases SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE name = ? AND owner = ?",
                (name, owner))
    conn.commit()


def holder(conn, name: str) -> str | None:
    """Who holds lease `name` now (None when free or expired)."""
    cur = conn.cursor()
    cur.execute("SELECT owner FROM leases WHERE name = ? AND expires_at >= NOW(6)", (name,))
    row = cur.fetchone()
    conn.commit()                                   # no snapshot left open for a later acquire
    return row[0] if row else None


def release_quietly(conn, name: str, owner: str = OWNER) -> None:
    """release() for a `finally`: a failure (the connection or the node is gone) is logged,
    never raised, so it cannot replace the error that is leaving the block; the lease then
    runs out by itself."""
    try:
        release(conn, name, owner)
    except Exception as exc:  # noqa: BLE001 - cleanup: the lease expires anyway
        log.warning("lease %s not released (%s: %s); it expires by itself", name, type(exc).__name__, exc)


def wait_acquire(conn, name: str, ttl_s: float, wait_s: float, owner: str = OWNER) -> bool:
    """acquire(), retried with a short jittered pause for up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    pause = 0.05
    while True:
        if acquire(conn, name, ttl_s, owner):
            return True
        if time.monotonic() + pause > deadline:
            return False
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 1.0)


class Renewer:
    """Renews lease `name` for `owner` every ttl/3 on its own connection until stopped.
    `lost` turns true when a renewal finds the lease taken by another owner, or when no
    renewal succeeded before the lease ran out (the database was unreachable): the job
    should then not commit what it did under the lease."""

    def __init__(self, db, name: str, ttl_s: float, owner: str = OWNER):
        # a pool of its own (one connection, made at the first renewal): the job may hold every
        # connection of its pool (the server's migrator has one) and the renewal must not wait
        self.db = Database(db.url, 1, db.connect_timeout_s, db.read_timeout_s)
        self.name, self.ttl_s, self.owner = name, ttl_s, owner
        self.renewals = 0
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{name}", daemon=True)

    def __enter__(self) -> "Renewer":
        self._until = time.monotonic() + self.ttl_s
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(self.ttl_s + 5)
        self.db.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                with self.db.connection() as conn:
                    if acquire(conn, self.name, self.ttl_s, self.owner):
                        self.renewals += 1
                        self._until = time.monotonic() + self.ttl_s
                        continue
                    if holder(conn, self.name) not in (None, self.owner):
                        self.lost = True
            except Exception as exc:  # noqa: BLE001 - the next renewal tries again
                log.warning("lease %s not renewed (%s: %s)", self.name, type(exc).__name__, exc)
            if time.monotonic() > self._until:
                self.lost = True


@contextmanager
def held(db, name: str, ttl_s: float, wait_s: float = 0.0, owner: str | None = None) -> Iterator[Renewer | None]:
    """Lease `name` for the block: None when another owner holds it past `wait_s`, else the
    running Renewer (check `.lost` before committing). Released at the end, quietly."""
    owner = owner or one_off_owner()
    with db.connection() as conn:
        taken = wait_acquire(conn, name, ttl_s, wait_s, owner)
    if not taken:
        yield None
        return
    try:
        with Renewer(db, name, ttl_s, owner) as renewer:
            yield renewer
    finally:
        try:
            with db.connection() as conn:
                release_quietly(conn, name, owner)
        except Exception as exc:  # noqa: BLE001 - no connection to be had: the lease expires by itself
            log.warning("lease %s not released (%s: %s)", name, type(exc).__name__, exc)
