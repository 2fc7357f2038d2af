"""SQL of the exception read path (migration 0013): clusters listed with filters and keyset
paging, one cluster's events, frames, counts per minute, versions and near clusters, user
feedback, status changes, and the clusters that became new or regressed in a window (the
detector's signal)."""
from __future__ import annotations

from datetime import datetime

from db.pool import Database

_CLUSTER = ("id, service, fingerprint, exception_type, message_template, first_seen, last_seen, total_count, "
            "status, status_changed_at, resolved_at, regressed_at, representative_event_id")
_CLUSTER_KEYS = [c.strip() for c in _CLUSTER.split(",")]
SORTS = {"count": "total_count", "recency": "last_seen"}
STATUSES = ("new", "regressed", "resolved")
VERDICTS = ("accept", "reject", "partially_correct")


def _cluster(row) -> dict:
    return dict(zip(_CLUSTER_KEYS, row))


def list_clusters(db: Database, service: list[str] | None = None, status: list[str] | None = None,
                  since: datetime | None = None, sort: str = "count", limit: int = 50,
                  after: tuple | None = None) -> list[dict]:
    """Clusters by `sort` (count | recency) descending, id breaking ties; `after` = the
    (sort value, id) of the last row of the previous page (keyset paging)."""
    column = SORTS[sort]
    clauses, params = [], []
    for name, values in (("service", service), ("status", status)):
        if values:
            clauses.append(f"{name} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if since is not None:
        clauses.append("last_seen >= ?")
        params.append(since)
    if after is not None:
        clauses.append(f"({column} < ? OR ({column} = ? AND id < ?))")
        params.extend([after[0], after[0], after[1]])
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    rows = db.fetchall(f"SELECT {_CLUSTER} FROM exception_clusters {where}ORDER BY {column} DESC, id DESC LIMIT ?",
                       [*params, limit])
    return [_cluster(r) for r in rows]


def get_cluster(db: Database, cluster_id: int) -> dict | None:
    row = db.fetchone(f"SELECT {_CLUSTER} FROM exception_clusters WHERE id = ?", (cluster_id,))
    return _cluster(row) if row else None


def cluster_of_event(db: Database, event_id: int) -> int | None:
    row = db.fetchone("SELECT cluster_id FROM exception_events WHERE event_id = ?", (event_id,))
    return int(row[0]) if row else None


def clusters_of_events(db: Database, event_ids: list[int]) -> dict[int, int]:
    """event id -> cluster id, for the events that are exceptions."""
    if not event_ids:
        return {}
    rows = db.fetchall("SELECT event_id, cluster_id FROM exception_events WHERE event_id IN ("
                       + ", ".join("?" * len(event_ids)) + ")", list(event_ids))
    return {int(e): int(c) for e, c in rows}


def frames(db: Database, event_id: int) -> list[dict]:
    """An exception event's frames: by section as printed, innermost first within each."""
    rows = db.fetchall("SELECT section, position, section_type, file, function, line, module, in_app "
                       "FROM exception_frames WHERE event_id = ? ORDER BY section, position", (event_id,))
    return [{"section": s, "position": p, "section_type": t, "file": f, "function": fn, "line": ln,
             "module": m, "in_app": bool(a)} for s, p, t, f, fn, ln, m, a in rows]


def events(db: Database, cluster_id: int, limit: int = 20) -> list[dict]:
    """The cluster's newest exception events."""
    rows = db.fetchall("SELECT event_id, ts, host, version, exception_type, message FROM exception_events "
                       "WHERE cluster_id = ? ORDER BY ts DESC, event_id DESC LIMIT ?", (cluster_id, limit))
    return [{"event_id": e, "ts": ts, "host": h, "version": v, "exception_type": t, "message": m}
            for e, ts, h, v, t, m in rows]


def counts(db: Database, cluster_id: int, since: datetime | None = None) -> list[tuple[datetime, int]]:
    rows = db.fetchall("SELECT bucket, count FROM exception_cluster_counts WHERE cluster_id = ? AND bucket >= ? "
                       "ORDER BY bucket", (cluster_id, since or datetime(1970, 1, 1)))
    return [(b, int(n)) for b, n in rows]


def versions(db: Database, cluster_id: int) -> list[dict]:
    """Versions that logged the cluster (NULL: none named), with counts and first/last seen."""
    rows = db.fetchall("SELECT version, COUNT(*), MIN(ts), MAX(ts) FROM exception_events WHERE cluster_id = ? "
                       "GROUP BY version ORDER BY MAX(ts) DESC", (cluster_id,))
    return [{"version": v, "count": int(n), "first_seen": a, "last_seen": b} for v, n, a, b in rows]


def similar(db: Database, cluster_id: int, limit: int = 5) -> list[dict]:
    """Other clusters sharing the innermost in-app frame's (module, function) of this one's
    representative event, or its service and exception type; the shared frame ranks first."""
    me = db.fetchone("SELECT c.service, c.exception_type, f.module, f.function FROM exception_clusters c "
                     "LEFT JOIN exception_frames f ON f.event_id = c.representative_event_id AND f.in_app "
                     "WHERE c.id = ? ORDER BY f.position, f.section DESC LIMIT 1", (cluster_id,))
    if me is None:
        return []
    service, exc_type, module, function = me
    rows = db.fetchall(
        "SELECT c.id, c.service, c.exception_type, c.message_template, c.total_count, c.last_seen, "
        "EXISTS (SELECT 1 FROM exception_frames f WHERE f.event_id = c.representative_event_id AND f.in_app "
        "        AND f.module = ? AND f.function = ?) AS same_frame "
        "FROM exception_clusters c WHERE c.id <> ? "
        "HAVING same_frame OR (c.service = ? AND c.exception_type = ?) "
        "ORDER BY same_frame DESC, c.total_count DESC, c.id LIMIT ?",
        (module or "", function or "", cluster_id, service, exc_type, limit))
    return [{"id": i, "service": s, "exception_type": t, "message_template": m, "total_count": int(n),
             "last_seen": ls, "reason": "same frame" if sf else "same type"} for i, s, t, m, n, ls, sf in rows]


def set_status(db: Database, cluster_id: int, status: str) -> bool:
    """Mark a cluster new | regressed | resolved; False when there is no such cluster."""
    with db.transaction() as cur:
        cur.execute("UPDATE exception_clusters SET status = ?, status_changed_at = CURRENT_TIMESTAMP(6), "
                    "resolved_at = IF(? = 'resolved', CURRENT_TIMESTAMP(6), resolved_at) WHERE id = ?",
                    (status, status, cluster_id))
        cur.execute("SELECT 1 FROM exception_clusters WHERE id = ?", (cluster_id,))
        return cur.fetchone() is not None


def add_feedback(db: Database, cluster_id: int, verdict: str, notes: str | None) -> int:
    with db.transaction() as cur:
        cur.execute("INSERT INTO exception_feedback (cluster_id, verdict, notes) VALUES (?, ?, ?) RETURNING id",
                    (cluster_id, verdict, notes))
        return int(cur.fetchone()[0])


def feedback(db: Database, cluster_id: int) -> list[dict]:
    rows = db.fetchall("SELECT id, verdict, notes, created_at FROM exception_feedback WHERE cluster_id = ? "
                       "ORDER BY id", (cluster_id,))
    return [{"id": i, "verdict": v, "notes": n, "created_at": c} for i, v, n, c in rows]


def changed_between(db: Database, since: datetime, until: datetime) -> list[dict]:
    """Clusters first seen, or regressed, in [since, until) by event time: the detector's input.
    Each with `change` = new | regressed."""
    rows = db.fetchall(
        f"SELECT {_CLUSTER}, IF(regressed_at >= ? AND regressed_at < ?, 'regressed', 'new') FROM exception_clusters "
        "WHERE (first_seen >= ? AND first_seen < ?) OR (regressed_at >= ? AND regressed_at < ?) ORDER BY id",
        (since, until, since, until, since, until))
    return [dict(_cluster(r[:-1]), change=r[-1]) for r in rows]


def clusters_in(db: Database, services: list[str], since: datetime, until: datetime,
                limit: int = 10) -> list[tuple[int, int]]:
    """(cluster id, events in [since, until)) of these services' clusters, most events first."""
    if not services:
        return []
    rows = db.fetchall("SELECT e.cluster_id, COUNT(*) AS n FROM exception_events e JOIN exception_clusters c "
                       f"ON c.id = e.cluster_id WHERE c.service IN ({', '.join('?' * len(services))}) "
                       "AND e.ts >= ? AND e.ts < ? GROUP BY e.cluster_id ORDER BY n DESC, e.cluster_id LIMIT ?",
                       [*services, since, until, limit])
    return [(int(c), int(n)) for c, n in rows]
