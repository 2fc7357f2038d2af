"""Counts for /info (cheap: table statistics for events, exact for templates)."""
from __future__ import annotations

from db.pool import Database


def counts(db: Database) -> dict[str, int]:
    templates = db.fetchone("SELECT COUNT(*) FROM log_templates")[0]
    events = db.fetchone("SELECT COALESCE(MAX(id), 0) FROM log_events")[0]
    return {"templates": int(templates), "events_approx": int(events)}
