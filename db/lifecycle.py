"""SQL for an incident's lifecycle (`state`, beside the investigation's `status`).

open -> acknowledged -> resolved, and snoozed (until a moment, then open again). A person
moves it (POST /incidents/{id}/ack|resolve|snooze), Alertmanager resolves the incident its
alert opened, and the detector cycle resolves one whose signals stayed quiet. A resolved
incident takes no new signals (db/incidents.recent_active); a signal of a new fault that
an investigation tells apart from the old one moves to an incident of its own (`split`).
"""
from __future__ import annotations

import json
from datetime import datetime

from db.incidents import SEVERITIES

# action -> (states it may start from, state it ends in); resolving twice is not an error
TRANSITIONS = {
    "ack": (("open", "snoozed", "acknowledged"), "acknowledged"),
    "snooze": (("open", "acknowledged", "snoozed"), "snoozed"),
    "resolve": (("open", "acknowledged", "snoozed", "resolved"), "resolved"),
}


class InvalidTransition(Exception):
    """The incident's state does not allow the action."""


def transition(cur, incident_id: int, action: str, now: datetime, by: str = "person",
               until: datetime | None = None) -> tuple[str, str] | None:
    """Apply `action`; -> (state before, state after), or None when there is no such incident.
    Raises InvalidTransition for a move the lifecycle does not have (ack of a resolved one)."""
    starts, ends = TRANSITIONS[action]
    cur.execute("SELECT state FROM incidents WHERE id = ? FOR UPDATE", (incident_id,))
    row = cur.fetchone()
    if row is None:
        return None
    before = row[0]
    if before not in starts:
        raise InvalidTransition(f"incident {incident_id} is {before}; it cannot be {ends} now")
    if action == "ack":
        cur.execute("UPDATE incidents SET state = 'acknowledged', acknowledged_at = COALESCE(acknowledged_at, ?), "
                    "snoozed_until = NULL WHERE id = ?", (now, incident_id))
    elif action == "snooze":
        cur.execute("UPDATE incidents SET state = 'snoozed', snoozed_until = ? WHERE id = ?", (until, incident_id))
    elif before != "resolved":
        cur.execute("UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, snoozed_until = NULL "
                    "WHERE id = ?", (now, by[:64], incident_id))
    return before, ends


def wake_snoozed(cur, now: datetime) -> list[int]:
    """Snoozes that ran out: open again."""
    cur.execute("SELECT id FROM incidents WHERE state = 'snoozed' AND snoozed_until <= ? FOR UPDATE", (now,))
    ids = [r[0] for r in cur.fetchall()]
    if ids:
        cur.execute(f"UPDATE incidents SET state = 'open', snoozed_until = NULL WHERE id IN ({', '.join('?' * len(ids))})",
                    ids)
    return ids


def resolve_quiet(cur, quiet_before: datetime, now: datetime) -> list[int]:
    """Incidents whose signals all came before `quiet_before`, resolved by the detector
    cycle. Incidents with no signal (opened by hand or by an alert) wait for a person or
    for their alert to resolve."""
    cur.execute("SELECT i.id FROM incidents i JOIN incident_signals s ON s.incident_id = i.id "
                "WHERE i.state IN ('open', 'acknowledged') AND i.status <> 'closed' "
                "GROUP BY i.id HAVING MAX(s.at) < ? FOR UPDATE", (quiet_before,))
    ids = [r[0] for r in cur.fetchall()]
    if ids:
        cur.execute("UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = 'quiet' "
                    f"WHERE id IN ({', '.join('?' * len(ids))})", [now, *ids])
    return ids


def split(cur, incident_id: int, signal_ids: list[int], title: str, opened_at: datetime,
          lookback_s: float) -> int | None:
    """Move `signal_ids` out of `incident_id` into a new incident (a different fault the
    investigation told apart); the old one keeps its other signals and its report. -> new id."""
    if not signal_ids:
        return None
    marks = ", ".join("?" * len(signal_ids))
    cur.execute(f"SELECT service, host, severity, at FROM incident_signals WHERE incident_id = ? AND id IN ({marks}) "
                "ORDER BY at, id", (incident_id, *signal_ids))
    moving = cur.fetchall()
    if not moving:
        return None
    first, last = moving[0], moving[-1]
    services = sorted({m[0] for m in moving})
    cur.execute("INSERT INTO incidents (title, `trigger`, severity, service, host, services_json, window_start, "
                "window_end, opened_at) VALUES (?, 'split', ?, ?, ?, ?, "
                "DATE_SUB(?, INTERVAL ? SECOND), DATE_ADD(?, INTERVAL 1 MINUTE), ?) RETURNING id",
                (title[:255], max((m[2] for m in moving), key=SEVERITIES.index), first[0], first[1],
                 json.dumps(services), first[3], int(lookback_s), last[3], opened_at))
    new_id = cur.fetchone()[0]
    cur.execute(f"UPDATE incident_signals SET incident_id = ? WHERE incident_id = ? AND id IN ({marks})",
                (new_id, incident_id, *signal_ids))
    cur.execute("SELECT service, MAX(at) FROM incident_signals WHERE incident_id = ? GROUP BY service", (incident_id,))
    kept = cur.fetchall()
    if kept:
        cur.execute("UPDATE incidents SET services_json = ?, window_end = DATE_ADD(?, INTERVAL 1 MINUTE), "
                    "status = 'reported', claimed_by = NULL WHERE id = ?",
                    (json.dumps(sorted({k[0] for k in kept} | _own(cur, incident_id))), max(k[1] for k in kept),
                     incident_id))
    return new_id


def _own(cur, incident_id: int) -> set[str]:
    cur.execute("SELECT service FROM incidents WHERE id = ?", (incident_id,))
    row = cur.fetchone()
    return {row[0]} if row and row[0] else set()
