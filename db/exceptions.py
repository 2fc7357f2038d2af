"""SQL of the exception write path (migration 0013): clusters upserted per (service,
fingerprint), each exception event linked to its cluster with its parsed frames, per-minute
cluster counts. Called inside Ingestor's transaction (ingest/exceptions.py builds the rows).

A cluster is `new` when first seen; a `resolved` cluster seen again becomes `regressed`
(regressed_at = that event's time). Keys are locked in sorted order so concurrent batches
touching the same clusters queue instead of deadlocking.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class ClusterHit:
    """What one batch saw of one cluster (new events only)."""

    service: str
    fingerprint: str
    exception_type: str
    message_template: str
    first: datetime
    last: datetime
    count: int
    representative_event_id: int


def event_ids(cur, hashes: list[bytes]) -> dict[bytes, int]:
    """log_events.id of each stored log_hash (in chunks of 1000)."""
    out: dict[bytes, int] = {}
    for start in range(0, len(hashes), 1000):
        chunk = hashes[start:start + 1000]
        cur.execute(f"SELECT log_hash, id FROM log_events WHERE log_hash IN ({', '.join('?' * len(chunk))})", chunk)
        out.update((bytes(h), int(i)) for h, i in cur.fetchall())
    return out


def upsert_clusters(cur, hits: list[ClusterHit]) -> dict[tuple[str, str], tuple[int, str | None]]:
    """(service, fingerprint) -> (cluster id, 'new' | 'regressed' | None) for each hit."""
    out: dict[tuple[str, str], tuple[int, str | None]] = {}
    if not hits:
        return out
    hits = sorted(hits, key=lambda h: (h.service, h.fingerprint))
    found = _lock(cur, [(h.service, h.fingerprint) for h in hits])
    missing = [h for h in hits if (h.service, h.fingerprint) not in found]
    if missing:
        cur.executemany(
            "INSERT IGNORE INTO exception_clusters (service, fingerprint, exception_type, message_template, "
            "first_seen, last_seen, total_count, status, status_changed_at, representative_event_id) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, 'new', ?, ?)",
            [(h.service, h.fingerprint, h.exception_type[:255], h.message_template, h.first, h.last, h.first,
              h.representative_event_id) for h in missing])
        created = _lock(cur, [(h.service, h.fingerprint) for h in missing])
        for key, (cluster_id, status, total) in created.items():
            found[key] = (cluster_id, "created" if total == 0 else status, total)
    for h in hits:
        key = (h.service, h.fingerprint)
        cluster_id, status, _total = found[key]
        regressed = status == "resolved"
        cur.execute(
            "UPDATE exception_clusters SET first_seen = LEAST(first_seen, ?), last_seen = GREATEST(last_seen, ?), "
            "total_count = total_count + ?, "
            "regressed_at = IF(status = 'resolved', ?, regressed_at), "
            "status_changed_at = IF(status = 'resolved', CURRENT_TIMESTAMP(6), status_changed_at), "
            "status = IF(status = 'resolved', 'regressed', status) WHERE id = ?",
            (h.first, h.last, h.count, h.first, cluster_id))
        out[key] = (cluster_id, "regressed" if regressed else ("new" if status == "created" else None))
    return out


def _lock(cur, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str, int]]:
    found: dict[tuple[str, str], tuple[int, str, int]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        cur.execute("SELECT service, fingerprint, id, status, total_count FROM exception_clusters WHERE "
                    + " OR ".join(["(service = ? AND fingerprint = ?)"] * len(chunk)) + " FOR UPDATE",
                    [v for key in chunk for v in key])
        found.update(((s, f), (int(i), st, int(n))) for s, f, i, st, n in cur.fetchall())
    return found


def add_events(cur, rows: list[tuple]) -> None:
    """rows: (event_id, cluster_id, ts, host, version, exception_type, message)."""
    if rows:
        cur.executemany("INSERT IGNORE INTO exception_events (event_id, cluster_id, ts, host, version, "
                        "exception_type, message) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def add_frames(cur, rows: list[tuple]) -> None:
    """rows: (event_id, section, position, section_type, file, function, line, module, in_app)."""
    if rows:
        cur.executemany("INSERT IGNORE INTO exception_frames (event_id, section, position, section_type, file, "
                        "function, line, module, in_app) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def add_counts(cur, rows: list[tuple]) -> None:
    """rows: (cluster_id, bucket, count); one bulk upsert in key order."""
    if rows:
        cur.executemany("INSERT INTO exception_cluster_counts (cluster_id, bucket, count) VALUES (?, ?, ?) "
                        "ON DUPLICATE KEY UPDATE count = count + VALUES(count)", sorted(rows))


def cluster_changes(cur, since: datetime, until: datetime) -> list[tuple]:
    """(cluster id, service, change new | regressed, exception type, message template, total,
    template id of the representative event) for clusters first seen or regressed in [since,
    until) by event time: the detector's input (on the detector cycle's cursor)."""
    cur.execute("SELECT c.id, c.service, IF(c.regressed_at >= ? AND c.regressed_at < ?, 'regressed', 'new'), "
                "c.exception_type, c.message_template, c.total_count, e.template_id FROM exception_clusters c "
                "LEFT JOIN log_events e ON e.id = c.representative_event_id "
                "WHERE (c.first_seen >= ? AND c.first_seen < ?) OR (c.regressed_at >= ? AND c.regressed_at < ?) "
                "ORDER BY c.id", (since, until, since, until, since, until))
    return list(cur.fetchall())


def prune(db, events_before: datetime, rollups_before: datetime, chunk: int = 2000) -> int:
    """Retention: exception events (and their frames) as old as the raw events dropped, and
    cluster minute counts as old as the rollups. Clusters stay: a bug seen again after
    months is a regression, not a new cluster. The number of exception events removed."""
    total = 0
    while True:
        rows = db.fetchall("SELECT event_id FROM exception_events WHERE ts < ? ORDER BY ts LIMIT ?",
                           (events_before, chunk))
        ids = [r[0] for r in rows]
        if ids:
            marks = ", ".join("?" * len(ids))
            with db.transaction() as cur:
                cur.execute(f"DELETE FROM exception_frames WHERE event_id IN ({marks})", ids)
                cur.execute(f"DELETE FROM exception_events WHERE event_id IN ({marks})", ids)
            total += len(ids)
        if len(ids) < chunk:
            break
    with db.transaction() as cur:
        cur.execute("DELETE FROM exception_cluster_counts WHERE bucket < ?", (rollups_before,))
    return total
