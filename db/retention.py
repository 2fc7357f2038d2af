"""Retention: delete old events in bounded chunks (short transactions, no long locks), drop
old rollups, and prune templates no event and no incident refers to any more."""
from __future__ import annotations

import json
from datetime import datetime

from db.pool import Database


def _chunked_delete(db: Database, sql: str, params: tuple, chunk: int) -> int:
    total = 0
    while True:
        with db.transaction() as cur:
            cur.execute(sql + " LIMIT ?", (*params, chunk))
            deleted = cur.rowcount
        total += deleted
        if deleted < chunk:
            return total


def prune_events(db: Database, before: datetime, chunk: int = 5000) -> int:
    return _chunked_delete(db, "DELETE FROM log_events WHERE ts < ? ORDER BY ts", (before,), chunk)


def prune_rollups(db: Database, before: datetime, chunk: int = 5000) -> int:
    """Rows of template_counts deleted (service_counts, their per-service sums, go with them)."""
    _chunked_delete(db, "DELETE FROM service_counts WHERE bucket < ? ORDER BY bucket", (before,), chunk)
    return _chunked_delete(db, "DELETE FROM template_counts WHERE bucket < ? ORDER BY bucket", (before,), chunk)


def cited_templates(db: Database) -> set[int]:
    """Template ids that incident signals or reports cite (kept whatever their age)."""
    cited: set[int] = set()
    for (ids,) in db.fetchall("SELECT template_ids FROM incident_signals"):
        cited.update(json.loads(ids))
    for (report,) in db.fetchall("SELECT report_json FROM incident_reports"):
        cited.update(json.loads(report).get("evidence_template_ids") or [])
    return cited


def prune_templates(db: Database, last_seen_before: datetime, keep: set[int], vector_tables: list[str],
                    chunk: int = 2000) -> int:
    """Templates last seen before the cutoff, with no event left, and not in `keep`."""
    rows = db.fetchall("SELECT t.id FROM log_templates t WHERE t.last_seen < ? AND NOT EXISTS "
                       "(SELECT 1 FROM log_events e WHERE e.template_id = t.id) "
                       "AND NOT EXISTS (SELECT 1 FROM template_counts c WHERE c.template_id = t.id)",
                       (last_seen_before,))
    doomed = [r[0] for r in rows if r[0] not in keep]
    for start in range(0, len(doomed), chunk):
        ids = doomed[start:start + chunk]
        marks = ", ".join("?" * len(ids))
        with db.transaction() as cur:
            for table in vector_tables:
                cur.execute(f"DELETE FROM `{table}` WHERE template_id IN ({marks})", ids)
            cur.execute(f"DELETE FROM log_templates WHERE id IN ({marks})", ids)
            # merges from or to a forgotten template go with it (a line that comes back is
            # matched or learned again)
            cur.execute(f"DELETE FROM template_merges WHERE from_id IN ({marks}) OR to_id IN ({marks})", ids + ids)
    return len(doomed)
