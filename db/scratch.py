"""SQL for benchmarks and evals: scratch databases (made, reused, dropped) and a raw copy of log_events."""
from __future__ import annotations

import uuid

import mariadb

from db.events import EVENT_COLUMNS
from db.migrate import migrate
from db.pool import Database
from db.settings import DBUrl


def create_database(url: DBUrl, prefix: str) -> DBUrl:
    """A new, migrated database next to `url`'s (the app user may create `devmesh%`)."""
    name = f"devmesh_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = Database(url)
    with admin.transaction() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    admin.close()
    db = Database(url.with_database(name))
    migrate(db)
    db.close()
    return url.with_database(name)


def drop_database(url: DBUrl) -> None:
    if not url.database.startswith("devmesh_"):
        raise ValueError(f"refusing to drop {url.database!r}: not a scratch database")
    admin = Database(url)
    with admin.transaction() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{url.database}`")
    admin.close()


def shape_of(cur) -> str:
    """The database's tables, columns and applied migrations (`cur` on it), as one string."""
    cur.execute("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM "
                "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION")
    columns = cur.fetchall()
    cur.execute("SELECT version FROM schema_migrations ORDER BY version")
    return repr((columns, cur.fetchall()))


def emptied(url: DBUrl, shape: str | None) -> bool:
    """Put a scratch database back to how migrate left it: every table written (rows, or an
    AUTO_INCREMENT past 1) truncated but schema_migrations. False, and nothing done, when its
    schema is no longer `shape`; False too when it cannot be had (a lock held for over 10 s)."""
    db = Database(url, max_size=1)
    try:
        with db.connection() as conn:
            cur = conn.cursor()
            cur.execute("SET SESSION lock_wait_timeout = 10, SESSION foreign_key_checks = 0")
            if shape is None or shape_of(cur) != shape:
                return False
            cur.execute("SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'schema_migrations'")
            tables = cur.fetchall()
            cur.execute(" UNION ALL ".join(f"(SELECT '{t}' FROM `{t}` LIMIT 1)" for t, _ in tables))
            written = {row[0] for row in cur.fetchall()} | {t for t, counter in tables if counter not in (None, 1)}
            for table in sorted(written):
                cur.execute(f"TRUNCATE TABLE `{table}`")
            conn.commit()
        return True
    except mariadb.Error:
        return False
    finally:
        db.close()


class Scratch:
    """One process's migrated scratch databases, reused (creating and migrating one takes
    ~0.3 s, dropping a written one as long; emptying it a few ms): `take` hands out an empty
    one, `give_back` empties it for the next taker, or drops it when its schema changed or
    it could not be emptied; `close` drops the spares."""

    def __init__(self, url: DBUrl, prefix: str):
        self.url, self.prefix = url, prefix
        self._spare: list[DBUrl] = []
        self._shapes: dict[str, str] = {}

    def take(self) -> DBUrl:
        if self._spare:
            return self._spare.pop()
        made = create_database(self.url, self.prefix)
        db = Database(made, max_size=1)
        with db.connection() as conn:
            self._shapes[made.database] = shape_of(conn.cursor())
        db.close()
        return made

    def give_back(self, url: DBUrl) -> None:
        if emptied(url, self._shapes.get(url.database)):
            self._spare.append(url)
        else:
            self._shapes.pop(url.database, None)
            drop_database(url)

    def close(self) -> None:
        while self._spare:
            url = self._spare.pop()
            self._shapes.pop(url.database, None)
            drop_database(url)


def create_raw_events_copy(db: Database) -> None:
    """`raw_events`: the same columns and indexes as log_events."""
    with db.transaction() as cur:
        cur.execute("CREATE TABLE raw_events LIKE log_events")


def insert_raw_events(cur, rows: list[tuple]) -> None:
    """A plain multi-row INSERT of event tuples (EVENT_COLUMNS order)."""
    row = "(" + ", ".join("?" * len(EVENT_COLUMNS)) + ")"
    cur.execute(f"INSERT INTO raw_events ({', '.join(EVENT_COLUMNS)}) VALUES " + ", ".join([row] * len(rows)),
                [v for r in rows for v in r])


def stored_events(db: Database) -> list[tuple]:
    return db.fetchall(f"SELECT {', '.join(EVENT_COLUMNS)} FROM log_events ORDER BY id")
