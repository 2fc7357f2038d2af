"""SQL for benchmarks and evals: scratch databases and a raw copy of log_events."""
from __future__ import annotations

import uuid

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
