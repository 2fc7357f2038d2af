"""Versions that deploy lines named, per (service, host) and time (migration 0014)."""
from __future__ import annotations

from datetime import datetime


def record(cur, rows: list[tuple[str, str, datetime, str]]) -> None:
    """rows: (service, host, seen_at, version); the same line twice is one row."""
    if rows:
        cur.executemany("INSERT IGNORE INTO deploy_versions (service, host, seen_at, version) VALUES (?, ?, ?, ?)",
                        rows)


def running(cur, service: str, host: str, at: datetime) -> str | None:
    """The version the newest deploy line of (service, host) at or before `at` named."""
    cur.execute("SELECT version FROM deploy_versions WHERE service = ? AND host = ? AND seen_at <= ? "
                "ORDER BY seen_at DESC LIMIT 1", (service, host, at))
    row = cur.fetchone()
    return row[0] if row else None
