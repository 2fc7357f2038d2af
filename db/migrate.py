"""Append-only numbered migrations: `db/migrations/NNNN_name.sql`, recorded in schema_migrations.

Never edit an applied migration; add the next number. A lease (db/leases.py) serialises
servers that start together, on one MariaDB or across a Galera cluster; statements are
idempotent, so a migration cut off half way reruns.
"""
from __future__ import annotations

import re
from pathlib import Path

from db import leases
from db.pool import Database
from db.version import check_version

LEASE, LEASE_TTL_S, LEASE_WAIT_S = "devmesh_migrate", 60.0, 60.0     # renewed every 20 s while migrating

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def available() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise RuntimeError(f"migration file {path.name} must be named NNNN_name.sql")
        found.append((int(m.group(1)), m.group(2), path))
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migration numbers must run 1..N without gaps, found {numbers}")
    return found


def statements(sql: str) -> list[str]:
    """Split a migration file on semicolons that end a line; drop comment-only chunks."""
    out = []
    for chunk in re.split(r";\s*$", sql, flags=re.M):
        body = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--"))
        if body.strip():
            out.append(body.strip())
    return out


def migrate(db: Database) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date). Refuses a
    server older than 11.7 (UnsupportedServer) before touching anything. Serialised by the
    lease `devmesh_migrate` (a row, so it holds across a Galera cluster, where GET_LOCK is per
    node): its table is made first, then the lease is awaited for up to LEASE_WAIT_S."""
    applied_now = []
    with db.connection() as conn:
        cur = conn.cursor()
        cur.execute("SELECT VERSION()")
        check_version(cur.fetchone()[0])
        cur.execute(leases.TABLE_DDL)
        conn.commit()
    with leases.held(db, LEASE, LEASE_TTL_S, LEASE_WAIT_S) as lease:
        if lease is None:
            raise RuntimeError(f"another process holds the migration lease for over {LEASE_WAIT_S:.0f} s")
        with db.connection() as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL,"
                        " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))")
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            conn.commit()
            for number, name, path in available():
                if number in done:
                    continue
                if lease.lost:
                    raise RuntimeError("the migration lease was lost (taken over after it ran out); "
                                       "run `devmesh migrate` again")
                for stmt in statements(path.read_text()):
                    cur.execute(stmt)
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (number, name))
                conn.commit()
                applied_now.append(f"{number:04d}_{name}")
    return applied_now


def applied(db: Database) -> list[int]:
    return [r[0] for r in db.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
