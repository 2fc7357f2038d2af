"""SQL and Cypher-free storage of metric snapshots (the graph side is in db/graph.py)."""
from __future__ import annotations

from db.pool import Database

_COLUMNS = ("id", "service", "name", "query", "window_start", "window_end", "points", "min", "max", "mean", "prev_mean")


def save(db: Database, incident_id: int, rows: list[dict]) -> list[int]:
    ids = []
    with db.transaction() as cur:
        cur.execute("DELETE FROM metric_snapshots WHERE incident_id = ?", (incident_id,))
        for r in rows:
            cur.execute("INSERT INTO metric_snapshots (incident_id, service, name, query, window_start, window_end, "
                        "points, min_value, max_value, mean_value, prev_mean) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "RETURNING id", (incident_id, r["service"], r["name"], r["query"], r["window_start"],
                                         r["window_end"], r["points"], r["min"], r["max"], r["mean"], r["prev_mean"]))
            ids.append(cur.fetchone()[0])
    return ids


def for_incident(db: Database, incident_id: int) -> list[dict]:
    rows = db.fetchall("SELECT id, service, name, query, window_start, window_end, points, min_value, max_value, "
                       "mean_value, prev_mean FROM metric_snapshots WHERE incident_id = ? ORDER BY id", (incident_id,))
    return [dict(zip(_COLUMNS, r)) for r in rows]
