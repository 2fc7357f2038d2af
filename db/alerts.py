"""SQL for alert_links: which incident a firing alert (by fingerprint) opened."""
from __future__ import annotations


def linked(cur, fingerprint: str) -> tuple[int, str, str] | None:
    """(incident id, link status, incident status) for a fingerprint, locked for update."""
    cur.execute("SELECT a.incident_id, a.status, i.status FROM alert_links a JOIN incidents i ON i.id = a.incident_id "
                "WHERE a.fingerprint = ? FOR UPDATE", (fingerprint,))
    row = cur.fetchone()
    return (row[0], row[1], row[2]) if row else None


def link(cur, fingerprint: str, incident_id: int, alertname: str) -> None:
    cur.execute("INSERT INTO alert_links (fingerprint, incident_id, status, alertname) VALUES (?, ?, 'firing', ?) "
                "ON DUPLICATE KEY UPDATE incident_id = VALUES(incident_id), status = 'firing'",
                (fingerprint, incident_id, alertname[:255]))


def resolve(cur, fingerprint: str) -> int | None:
    """Mark the alert resolved and close its incident; returns the incident id."""
    found = linked(cur, fingerprint)
    if found is None:
        return None
    cur.execute("UPDATE alert_links SET status = 'resolved' WHERE fingerprint = ?", (fingerprint,))
    cur.execute("UPDATE incidents SET status = 'closed' WHERE id = ?", (found[0],))
    return found[0]
