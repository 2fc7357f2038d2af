"""SQL for alert_links: which incident a firing alert (by fingerprint) opened."""
from __future__ import annotations


def linked(cur, fingerprint: str) -> tuple[int, str, str] | None:
    """(incident id, link status, incident lifecycle state) for a fingerprint, locked for update."""
    cur.execute("SELECT a.incident_id, a.status, i.state FROM alert_links a JOIN incidents i ON i.id = a.incident_id "
                "WHERE a.fingerprint = ? FOR UPDATE", (fingerprint,))
    row = cur.fetchone()
    return (row[0], row[1], row[2]) if row else None


def link(cur, fingerprint: str, incident_id: int, alertname: str) -> None:
    cur.execute("INSERT INTO alert_links (fingerprint, incident_id, status, alertname) VALUES (?, ?, 'firing', ?) "
                "ON DUPLICATE KEY UPDATE incident_id = VALUES(incident_id), status = 'firing'",
                (fingerprint, incident_id, alertname[:255]))


def resolve(cur, fingerprint: str) -> int | None:
    """Mark the alert resolved and resolve its incident (by Alertmanager); returns the incident id."""
    found = linked(cur, fingerprint)
    if found is None:
        return None
    cur.execute("UPDATE alert_links SET status = 'resolved' WHERE fingerprint = ?", (fingerprint,))
    cur.execute("UPDATE incidents SET state = 'resolved', resolved_at = NOW(6), resolved_by = 'alertmanager', "
                "snoozed_until = NULL WHERE id = ? AND state <> 'resolved'", (found[0],))
    return found[0]
