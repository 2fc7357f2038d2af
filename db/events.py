"""SQL for log_events: the batch insert of the write path and the reads of /query and /search."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.levels import LEVELS
from db.pool import Database

EVENT_COLUMNS = ("log_hash", "ts", "host", "service", "source", "level", "message", "trace_id",
                 "span_id", "event_type", "error_code", "meta_json", "template_id")
_ROW = "(" + ", ".join("?" * len(EVENT_COLUMNS)) + ")"
_READ = ("id, ts, host, service, source, level, message, trace_id, span_id, event_type, "
         "error_code, meta_json, template_id")


def insert_events(cur, rows: list[tuple]) -> list[bytes]:
    """One bulk INSERT IGNORE (the binary bulk protocol: one statement, one round trip);
    returns the log_hash of each row actually inserted (stored duplicates are skipped by
    the unique key, race-free)."""
    if not rows:
        return []
    cur.executemany(f"INSERT IGNORE INTO log_events ({', '.join(EVENT_COLUMNS)}) VALUES {_ROW} "
                    "RETURNING log_hash", rows)
    return [r[0] for r in cur.fetchall()]


def stored_hashes(cur, hashes: list[bytes]) -> set[bytes]:
    """Which of these log_hashes are stored (in chunks of 1000)."""
    found: set[bytes] = set()
    for start in range(0, len(hashes), 1000):
        chunk = hashes[start:start + 1000]
        cur.execute(f"SELECT log_hash FROM log_events WHERE log_hash IN ({', '.join('?' * len(chunk))})", chunk)
        found.update(bytes(r[0]) for r in cur.fetchall())
    return found


def contains(text: str) -> str:
    """A LIKE pattern (with ESCAPE '!') matching any value that holds `text` as it is."""
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


@dataclass
class EventFilter:
    service: list[str] | None = None
    host: list[str] | None = None
    level: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    template_id: list[int] | None = None
    source: list[str] | None = None

    def where(self) -> tuple[list[str], list]:
        clauses, params = [], []
        for column, values in (("service", self.service), ("host", self.host),
                               ("level", self.level), ("template_id", self.template_id), ("source", self.source)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.since:
            clauses.append("ts >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("ts < ?")
            params.append(self.until)
        if self.q:
            clauses.append("message LIKE ? ESCAPE '!'")
            params.append(contains(self.q))
        return clauses, params


def query_events(db: Database, flt: EventFilter, limit: int,
                 after: tuple[datetime, int] | None = None) -> list[dict]:
    """Newest first; keyset pagination on (ts, id) strictly below `after`."""
    clauses, params = flt.where()
    if after:
        clauses.append("(ts < ? OR (ts = ? AND id < ?))")
        params.extend([after[0], after[0], after[1]])
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.fetchall(f"SELECT {_READ} FROM log_events {where} ORDER BY ts DESC, id DESC LIMIT ?",
                       [*params, limit])
    return [_event(r) for r in rows]


def scan(db: Database, flt: EventFilter, limit: int, oldest_first: bool = False,
         after: tuple[datetime, int] | None = None) -> list[tuple]:
    """(id, ts, host, service, level, source, message) in time order, keyset after `after`
    (the Loki read API pages through these and filters labels and lines itself)."""
    clauses, params = flt.where()
    if after:
        op = ">" if oldest_first else "<"
        clauses.append(f"(ts {op} ? OR (ts = ? AND id {op} ?))")
        params.extend([after[0], after[0], after[1]])
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    order = "ASC" if oldest_first else "DESC"
    return db.fetchall(f"SELECT id, ts, host, service, level, source, message FROM log_events {where} "
                       f"ORDER BY ts {order}, id {order} LIMIT ?", [*params, limit])


def label_values(db: Database, label: str, since: datetime, until: datetime, limit: int = 1000) -> list[str]:
    """Distinct values of one record label (host, service, level, source) in a time range."""
    if label not in ("host", "service", "level", "source"):
        raise ValueError(label)
    rows = db.fetchall(f"SELECT DISTINCT {label} FROM log_events WHERE ts >= ? AND ts < ? ORDER BY 1 LIMIT ?",
                       (since, until, limit))
    return [str(r[0]) for r in rows]


def series(db: Database, since: datetime, until: datetime, limit: int = 5000) -> list[tuple]:
    """Distinct (host, service, level, source) in a time range."""
    return db.fetchall("SELECT DISTINCT host, service, level, source FROM log_events WHERE ts >= ? AND ts < ? "
                       "LIMIT ?", (since, until, limit))


def examples(db: Database, template_ids: list[int], per_template: int,
             flt: EventFilter | None = None) -> dict[int, list[dict]]:
    """The newest `per_template` events of each template (one indexed query per template)."""
    out: dict[int, list[dict]] = {}
    base_clauses, base_params = (flt or EventFilter()).where()
    for template_id in template_ids:
        clauses = ["template_id = ?", *base_clauses]
        rows = db.fetchall(f"SELECT {_READ} FROM log_events WHERE {' AND '.join(clauses)} "
                           "ORDER BY ts DESC, id DESC LIMIT ?", [template_id, *base_params, per_template])
        out[template_id] = [_event(r) for r in rows]
    return out


def recent_messages(db: Database, service: str, template_ids: list[int], per_template: int,
                    since: datetime, until: datetime) -> dict[int, list[str]]:
    """The newest `per_template` messages of each template a service wrote in [since, until):
    the text alone (one indexed query per template), for statistics over what lines say."""
    out: dict[int, list[str]] = {}
    for template_id in template_ids:
        rows = db.fetchall("SELECT message FROM log_events WHERE template_id = ? AND ts >= ? AND ts < ? "
                           "AND service = ? ORDER BY ts DESC LIMIT ?",
                           [template_id, since, until, service, per_template])
        out[template_id] = [r[0] for r in rows]
    return out


def _event(row: tuple) -> dict:
    import json

    keys = ("id", "ts", "host", "service", "source", "level", "message", "trace_id", "span_id",
            "event_type", "error_code", "meta", "template_id")
    event = dict(zip(keys, row))
    event["ts"] = event["ts"].isoformat() + "Z"
    event["meta"] = json.loads(event["meta"]) if event["meta"] else None
    return event


def around(db: Database, event_id: int, before: int, after: int) -> tuple[dict | None, list[dict]]:
    """An event and the lines of the same host just before and after it, in time order."""
    row = db.fetchone(f"SELECT {_READ} FROM log_events WHERE id = ?", (event_id,))
    if row is None:
        return None, []
    event = _event(row)
    earlier = db.fetchall(f"SELECT {_READ} FROM log_events WHERE host = ? AND (ts < ? OR (ts = ? AND id < ?)) "
                          "ORDER BY ts DESC, id DESC LIMIT ?", (row[2], row[1], row[1], event_id, before))
    later = db.fetchall(f"SELECT {_READ} FROM log_events WHERE host = ? AND (ts > ? OR (ts = ? AND id > ?)) "
                        "ORDER BY ts, id LIMIT ?", (row[2], row[1], row[1], event_id, after))
    return event, [_event(r) for r in reversed(earlier)] + [event] + [_event(r) for r in later]


def neighbours(db: Database, event_id: int, n: int) -> dict | None:
    """An event and, by (ts, id), the `n` lines just before and after it on its host and on
    its service (GET /events/{id}); None for an unknown id."""
    row = db.fetchone(f"SELECT {_READ} FROM log_events WHERE id = ?", (event_id,))
    if row is None:
        return None
    out: dict = {"event": _event(row)}
    for column, value in (("host", row[2]), ("service", row[3])):
        before = db.fetchall(f"SELECT {_READ} FROM log_events WHERE {column} = ? AND (ts < ? OR (ts = ? AND id < ?)) "
                             "ORDER BY ts DESC, id DESC LIMIT ?", (value, row[1], row[1], event_id, n)) if n else []
        after = db.fetchall(f"SELECT {_READ} FROM log_events WHERE {column} = ? AND (ts > ? OR (ts = ? AND id > ?)) "
                            "ORDER BY ts, id LIMIT ?", (value, row[1], row[1], event_id, n)) if n else []
        out[column] = {"before": [_event(r) for r in reversed(before)], "after": [_event(r) for r in after]}
    return out


def messages(db: Database, event_ids: list[int]) -> list[str]:
    if not event_ids:
        return []
    rows = db.fetchall(f"SELECT message FROM log_events WHERE id IN ({', '.join('?' * len(event_ids))})", event_ids)
    return [r[0] for r in rows]


def trace_spans(db: Database, since: datetime, until: datetime, services: list[str] | None = None,
                max_traces: int = 2000) -> list[tuple[str, str, datetime, datetime, int, datetime | None]]:
    """Per (trace, service) in the window: first and last event, error-or-worse count and the
    first error's time. Only traces with at least two services say anything about calls."""
    scope = f"AND service IN ({', '.join('?' * len(services))})" if services else ""
    rows = db.fetchall(
        "SELECT trace_id, service, MIN(ts), MAX(ts), SUM(level + 0 >= 5), MIN(IF(level + 0 >= 5, ts, NULL)) "
        "FROM log_events WHERE trace_id IN (SELECT trace_id FROM (SELECT trace_id FROM log_events "
        f"WHERE ts >= ? AND ts < ? AND trace_id IS NOT NULL {scope} GROUP BY trace_id "
        "HAVING COUNT(DISTINCT service) > 1 LIMIT ?) AS t) AND ts >= ? AND ts < ? GROUP BY trace_id, service",
        [since, until, *(services or []), max_traces, since, until])
    return [(t, s, a, b, int(e or 0), fe) for t, s, a, b, e, fe in rows]


def trace_events(db: Database, since: datetime, until: datetime, max_traces: int = 1500,
                 max_events: int = 60000) -> list[tuple[str, str, datetime, int, str]]:
    """(trace id, service, ts, template id, level) of every line of up to `max_traces` traces
    that started in [since, until) and span at least two services, in time order (lines of
    one millisecond in the order they were stored). Beyond `max_traces` the traces are a
    sample that is the same on every run and spread over the whole period (by a hash of the
    trace id), so one investigation of the same data always sees the same traces."""
    rows = db.fetchall(
        "SELECT e.trace_id, e.service, e.ts, e.template_id, e.level + 0 FROM log_events e JOIN ("
        "SELECT trace_id FROM log_events WHERE ts >= ? AND ts < ? AND trace_id IS NOT NULL "
        "GROUP BY trace_id HAVING COUNT(DISTINCT service) > 1 AND MIN(ts) >= ? "
        "ORDER BY CRC32(trace_id), trace_id LIMIT ?) t "
        "ON t.trace_id = e.trace_id WHERE e.ts >= ? AND e.ts < ? + INTERVAL 10 MINUTE ORDER BY e.ts, e.id LIMIT ?",
        [since, until, since, max_traces, since, until, max_events])
    return [(t, s, ts, int(tid or 0), LEVELS[int(lv) - 1]) for t, s, ts, tid, lv in rows]


def export_page(db: Database, since: datetime, until: datetime, after: tuple[datetime, int] | None,
                limit: int = 5000) -> list[tuple]:
    """Whole stored lines in [since, until), oldest first, keyset after (ts, id): (id, ts, host,
    service, source, level, message, trace_id, span_id, event_type, error_code, meta_json).
    For writing a window back out as wire records (an eval case)."""
    clauses, params = ["ts >= ?", "ts < ?"], [since, until]
    if after:
        clauses.append("(ts > ? OR (ts = ? AND id > ?))")
        params += [after[0], after[0], after[1]]
    return db.fetchall("SELECT id, ts, host, service, source, level, message, trace_id, span_id, event_type, "
                       f"error_code, meta_json FROM log_events WHERE {' AND '.join(clauses)} "
                       "ORDER BY ts, id LIMIT ?", [*params, limit])
