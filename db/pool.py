"""A small thread-safe MariaDB connection pool, built once and passed in.

Connections are made on demand (a server starts even while MariaDB is down and answers
503 until it is back), reused LIFO, and dropped when they fail. `transaction()` commits
on success and rolls back on any error, so a batch is written whole or not at all.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Iterator

import mariadb

from db.settings import DBUrl

# client/server error codes that mean "the server is not there", not "your SQL is wrong"
_UNAVAILABLE = {1040, 1053, 1077, 1078, 1079, 1080, 1152, 1158, 1159, 1160, 1161,
                2002, 2003, 2005, 2006, 2011, 2012, 2013, 2026, 2027, 2055, 4031}


# a transaction that lost to another writer: a row changed under our snapshot (1020), a lock
# wait timed out (1205), a deadlock or a Galera certification failure (1213); redo it whole
CONFLICTS = frozenset({1020, 1205, 1213})


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, mariadb.Error) and getattr(exc, "errno", None) in CONFLICTS


class DatabaseUnavailable(RuntimeError):
    """MariaDB cannot be reached or dropped the connection; retry later (HTTP 503)."""


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, mariadb.Error) and (
        getattr(exc, "errno", None) in _UNAVAILABLE
        or isinstance(exc, (mariadb.InterfaceError, mariadb.OperationalError))
        and getattr(exc, "errno", None) in (None, 0))


class Database:
    """Pool of connections to one database as one user."""

    def __init__(self, url: DBUrl, max_size: int = 8, connect_timeout_s: int = 3, read_timeout_s: int = 60):
        self.url = url
        self.max_size = max_size
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._idle: deque[tuple[mariadb.Connection, float]] = deque()
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()

    def _connect(self) -> mariadb.Connection:
        try:
            return mariadb.connect(
                host=self.url.host, port=self.url.port, user=self.url.user,
                password=self.url.password, database=self.url.database,
                connect_timeout=self.connect_timeout_s, read_timeout=self.read_timeout_s,
                write_timeout=self.read_timeout_s,
                autocommit=False)
        except mariadb.Error as exc:
            if is_unavailable(exc):
                raise DatabaseUnavailable(
                    f"cannot connect to MariaDB at {self.url.host}:{self.url.port} ({exc}); "
                    "is it running? `devmesh services status`") from exc
            raise

    def _checkout(self) -> mariadb.Connection:
        """An idle connection (pinged if it sat idle a while, e.g. across a restart) or a new one."""
        with self._lock:
            conn, since = self._idle.pop() if self._idle else (None, 0.0)
        if conn is not None and time.monotonic() - since > 1.0:
            try:
                conn.ping()
            except mariadb.Error:
                _close_quietly(conn)
                conn = None
        return conn if conn is not None else self._connect()

    @contextmanager
    def connection(self) -> Iterator[mariadb.Connection]:
        """A connection for the duration of the block; broken ones are not returned."""
        if not self._slots.acquire(timeout=30):
            raise DatabaseUnavailable("all database connections are busy; retry shortly")
        conn = None
        try:
            conn = self._checkout()
            try:
                yield conn
            except BaseException as exc:
                broken = is_unavailable(exc)
                try:
                    conn.rollback()
                except mariadb.Error:
                    broken = True
                if broken:
                    _close_quietly(conn)
                    conn = None
                    if isinstance(exc, mariadb.Error):
                        raise DatabaseUnavailable(f"lost the MariaDB connection ({exc}); retry") from exc
                raise
            if conn is not None:
                with self._lock:
                    self._idle.append((conn, time.monotonic()))
                conn = None
        finally:
            if conn is not None:
                _close_quietly(conn)
            self._slots.release()

    @contextmanager
    def transaction(self) -> Iterator[mariadb.Cursor]:
        """A cursor in one transaction: committed if the block succeeds, else rolled back."""
        with self.connection() as conn:
            cur = conn.cursor()
            try:
                yield cur
                conn.commit()
            finally:
                cur.close()

    def fetchall(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self.transaction() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def fetchone(self, sql: str, params: tuple | list = ()) -> tuple | None:
        with self.transaction() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def ping(self) -> str:
        """The server version; raises DatabaseUnavailable when MariaDB is down."""
        return self.fetchone("SELECT VERSION()")[0]

    def close(self) -> None:
        with self._lock:
            while self._idle:
                _close_quietly(self._idle.pop()[0])


def _close_quietly(conn: mariadb.Connection) -> None:
    try:
        conn.close()
    except mariadb.Error:
        pass
