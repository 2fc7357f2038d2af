"""Leases: a named lock as a row (name, owner, expires_at) that works on one MariaDB and on
a Galera cluster alike (GET_LOCK is per server and not replicated). Taking one is a single
conditional UPDATE after an INSERT IGNORE of the row: it succeeds when the lease is free,
expired, or already ours (a renewal). On Galera two nodes racing for it conflict on the row;
the loser's commit fails certification (a deadlock error), which counts as not taken.
Each call commits, so the lease is visible to the other nodes at once."""
from __future__ import annotations

import os
import socket
import uuid

import mariadb

from db.pool import is_conflict

OWNER = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"   # this process


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
