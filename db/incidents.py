"""SQL for incidents, their signals, reports and feedback; claiming work with SKIP LOCKED."""
from __future__ import annotations

import json
from datetime import datetime

import mariadb

from db.pool import Database, is_conflict

SEVERITIES = ("info", "warning", "error", "critical")
STATES = ("open", "acknowledged", "snoozed", "resolved")       # the lifecycle (db/lifecycle.py)
_COLUMNS = ("id, title, `trigger`, severity, service, host, services_json, window_start, window_end, status, "
            "opened_at, updated_at, attempts, last_error, state, acknowledged_at, snoozed_until, resolved_at, "
            "resolved_by")


def _incident(row: tuple) -> dict:
    keys = ("id", "title", "trigger", "severity", "service", "host", "services", "window_start", "window_end",
            "status", "opened_at", "updated_at", "attempts", "last_error", "state", "acknowledged_at",
            "snoozed_until", "resolved_at", "resolved_by")
    out = dict(zip(keys, row))
    out["services"] = json.loads(out["services"])
    for key in ("window_start", "window_end", "opened_at", "updated_at", "acknowledged_at", "snoozed_until",
                "resolved_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat() + "Z"
    return out


def open_incident(cur, title: str, trigger: str, severity: str, service: str | None, host: str | None,
                  services: list[str], window_start: datetime, window_end: datetime, opened_at: datetime) -> int:
    cur.execute("INSERT INTO incidents (title, `trigger`, severity, service, host, services_json, window_start, "
                "window_end, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (title, trigger, severity, service, host, json.dumps(sorted(services)), window_start, window_end,
                 opened_at))
    return cur.fetchone()[0]


def add_signal(cur, incident_id: int, detector: str, service: str, host: str | None, severity: str,
               at: datetime, message: str, template_ids: list[int], detail: dict | None = None) -> None:
    cur.execute("INSERT INTO incident_signals (incident_id, detector, service, host, severity, at, message, "
                "template_ids, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (incident_id, detector, service, host, severity, at, message[:512], json.dumps(template_ids),
                 json.dumps(detail or {}, default=str)))


def widen(cur, incident_id: int, severity: str, services: list[str], window_end: datetime) -> None:
    """Fold one more signal in: worst severity, union of services, later window end."""
    cur.execute("SELECT severity, services_json, window_end FROM incidents WHERE id = ? FOR UPDATE", (incident_id,))
    old_severity, old_services, old_end = cur.fetchone()
    worst = max(old_severity, severity, key=SEVERITIES.index)
    merged = sorted(set(json.loads(old_services)) | set(services))
    cur.execute("UPDATE incidents SET severity = ?, services_json = ?, window_end = ? WHERE id = ?",
                (worst, json.dumps(merged), max(old_end, window_end), incident_id))


def recent_active(cur, since: datetime) -> list[dict]:
    """Incidents not resolved that opened, or last grew, since `since` (the merge window's
    candidates: a fault whose signals trickle in over half an hour stays one incident), each
    with its latest report's root cause (`root_cause`, None before the first report)."""
    cur.execute(f"SELECT {_COLUMNS} FROM incidents WHERE (opened_at >= ? OR window_end >= ?) AND state <> 'resolved' "
                "AND status <> 'closed' ORDER BY id", (since, since))
    found = [_incident(r) for r in cur.fetchall()]
    for incident in found:
        cur.execute("SELECT root_cause_service FROM incident_reports WHERE incident_id = ? ORDER BY id DESC LIMIT 1",
                    (incident["id"],))
        row = cur.fetchone()
        incident["root_cause"] = row[0] if row else None
    return found


def changed_picture(cur, incident_id: int) -> bool:
    """A signal that changed a reported incident's picture: investigate it again (a claim
    takes it; the report it had stands until the new one is written)."""
    cur.execute("UPDATE incidents SET status = 'open', attempts = 0, last_error = NULL "
                "WHERE id = ? AND status = 'reported'", (incident_id,))
    return cur.rowcount == 1


def get(db: Database, incident_id: int) -> dict | None:
    row = db.fetchone(f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident_id,))
    return _incident(row) if row else None


def signals(db: Database, incident_id: int) -> list[dict]:
    rows = db.fetchall("SELECT id, detector, service, host, severity, at, message, template_ids, detail_json "
                       "FROM incident_signals WHERE incident_id = ? ORDER BY at, id", (incident_id,))
    return [{"id": i, "detector": d, "service": s, "host": h, "severity": sev, "at": at.isoformat() + "Z",
             "message": m, "template_ids": json.loads(t), "detail": json.loads(j) if j else {}}
            for i, d, s, h, sev, at, m, t, j in rows]


def listing(db: Database, status: list[str] | None = None, service: str | None = None,
            since: datetime | None = None, limit: int = 100, state: list[str] | None = None) -> list[dict]:
    clauses, params = [], []
    if status:
        clauses.append(f"status IN ({', '.join('?' * len(status))})")
        params.extend(status)
    if state:
        clauses.append(f"state IN ({', '.join('?' * len(state))})")
        params.extend(state)
    if service:
        clauses.append("(service = ? OR JSON_CONTAINS(services_json, JSON_QUOTE(?)))")
        params.extend([service, service])
    if since:
        clauses.append("opened_at >= ?")
        params.append(since)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = db.fetchall(f"SELECT {_COLUMNS} FROM incidents {where} ORDER BY opened_at DESC, id DESC LIMIT ?",
                       [*params, limit])
    return [_incident(r) for r in rows]


def claim(db: Database, worker: str, stale_before: datetime, max_attempts: int = 5) -> int | None:
    """Take one incident to investigate: open ones, or ones whose investigator went silent
    (claimed before `stale_before`). SKIP LOCKED lets many workers claim without waiting. On
    Galera row locks are per node, so two nodes may pick the same incident: the second commit
    fails certification (a deadlock error) and that worker claims nothing this time."""
    try:
        with db.transaction() as cur:
            cur.execute("SELECT id FROM incidents WHERE attempts < ? AND (status = 'open' OR "
                        "(status = 'investigating' AND claimed_at < ?)) ORDER BY opened_at, id LIMIT 1 "
                        "FOR UPDATE SKIP LOCKED", (max_attempts, stale_before))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute("UPDATE incidents SET status = 'investigating', claimed_by = ?, claimed_at = NOW(6), "
                        "attempts = attempts + 1 WHERE id = ?", (worker, row[0]))
            return row[0]
    except mariadb.Error as exc:
        if is_conflict(exc):
            return None
        raise


def set_status(db: Database, incident_id: int, status: str, error: str | None = None) -> None:
    with db.transaction() as cur:
        cur.execute("UPDATE incidents SET status = ?, last_error = ?, claimed_by = NULL WHERE id = ?",
                    (status, error, incident_id))


def requeue(db: Database, incident_id: int) -> bool:
    with db.transaction() as cur:
        cur.execute("UPDATE incidents SET status = 'open', attempts = 0, last_error = NULL WHERE id = ?",
                    (incident_id,))
        return cur.rowcount == 1


def save_context(db: Database, incident_id: int, context: dict) -> None:
    with db.transaction() as cur:
        cur.execute("UPDATE incidents SET context_json = ? WHERE id = ?", (json.dumps(context, default=str),
                                                                           incident_id))


def save_report(db: Database, incident_id: int, report: dict, markdown: str, written_by: str = "deterministic",
                title: str | None = None, last_signal_id: int | None = None) -> int:
    """The report, and the incident's title set to its conclusion when one is given."""
    with db.transaction() as cur:
        cur.execute("INSERT INTO incident_reports (incident_id, root_cause_service, root_cause_host, "
                    "root_cause_hypothesis, confidence, markdown, report_json, written_by, last_signal_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (incident_id, report.get("root_cause_service"), report.get("root_cause_host"),
                     report["root_cause_hypothesis"], report["confidence"], markdown,
                     json.dumps(report, default=str), written_by, last_signal_id))
        report_id = cur.fetchone()[0]
        cur.execute("UPDATE incidents SET status = 'reported', claimed_by = NULL, last_error = NULL, "
                    "title = COALESCE(?, title) WHERE id = ?", (title[:255] if title else None, incident_id))
        return report_id


def previous_report(db: Database, incident_id: int) -> tuple[str | None, int | None] | None:
    """(root cause service, last signal id it saw) of the latest report, None before one."""
    row = db.fetchone("SELECT root_cause_service, last_signal_id FROM incident_reports WHERE incident_id = ? "
                      "ORDER BY id DESC LIMIT 1", (incident_id,))
    return (row[0], row[1]) if row else None


def latest_report(db: Database, incident_id: int) -> dict | None:
    row = db.fetchone("SELECT id, created_at, markdown, report_json, written_by FROM incident_reports "
                      "WHERE incident_id = ? ORDER BY id DESC LIMIT 1", (incident_id,))
    if not row:
        return None
    return {"id": row[0], "created_at": row[1].isoformat() + "Z", "markdown": row[2], **json.loads(row[3]),
            "written_by": row[4]}


def add_feedback(db: Database, incident_id: int, verdict: str, service: str | None, host: str | None,
                 comment: str | None) -> int:
    with db.transaction() as cur:
        cur.execute("INSERT INTO feedback (incident_id, verdict, root_cause_service, root_cause_host, comment) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id", (incident_id, verdict, service, host, comment))
        return cur.fetchone()[0]


def by_status(db: Database) -> dict[tuple[str, str], int]:
    """(investigation status, lifecycle state) -> how many incidents."""
    return {(status, state): int(n) for status, state, n in
            db.fetchall("SELECT status, state, COUNT(*) FROM incidents GROUP BY status, state")}


def root_causes_elsewhere(db: Database, incident_id: int, since: datetime,
                          until: datetime) -> dict[str, tuple[int, set[str]]]:
    """service -> (id, services) of another incident whose latest report named it the root
    cause, among incidents whose windows overlap [since, until) (resolved ones too: their
    fault is known)."""
    rows = db.fetchall("SELECT i.id, r.root_cause_service, i.services_json FROM incidents i JOIN incident_reports r "
                       "ON r.id = (SELECT MAX(x.id) FROM incident_reports x WHERE x.incident_id = i.id) "
                       "WHERE i.id <> ? AND i.window_start < ? AND i.window_end > ? "
                       "AND r.root_cause_service IS NOT NULL ORDER BY i.id", (incident_id, until, since))
    return {service: (other, set(json.loads(services))) for other, service, services in rows}
