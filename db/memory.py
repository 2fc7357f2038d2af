"""SQL for what past incidents concluded (incident_memory) and the verdicts people gave them;
the per-detector and per-rule feedback counts."""
from __future__ import annotations

import json

from db.pool import Database


def save(cur, incident_id: int, text: str, template_ids: list[int], services: list[str],
         root_cause_service: str | None, root_cause_host: str | None) -> None:
    cur.execute("INSERT INTO incident_memory (incident_id, text, template_ids_json, services_json, root_cause_service, "
                "root_cause_host) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE text = VALUES(text), "
                "template_ids_json = VALUES(template_ids_json), services_json = VALUES(services_json), "
                "root_cause_service = VALUES(root_cause_service), root_cause_host = VALUES(root_cause_host), "
                "updated_at = NOW(6)",
                (incident_id, text, json.dumps(template_ids), json.dumps(services), root_cause_service,
                 root_cause_host))


def get(db: Database, incident_id: int) -> dict | None:
    row = db.fetchone("SELECT text, template_ids_json, services_json, root_cause_service, root_cause_host "
                      "FROM incident_memory WHERE incident_id = ?", (incident_id,))
    if not row:
        return None
    return {"incident_id": incident_id, "text": row[0], "template_ids": json.loads(row[1]),
            "services": json.loads(row[2]), "root_cause_service": row[3], "root_cause_host": row[4]}


def past(db: Database, before_id: int, limit: int = 500) -> list[dict]:
    """The memories of resolved incidents other than `before_id` opened before it, newest
    first (bounded), with their title, times and state."""
    rows = db.fetchall(
        "SELECT m.incident_id, m.text, m.template_ids_json, m.services_json, m.root_cause_service, "
        "m.root_cause_host, i.title, i.opened_at, i.resolved_at, i.state FROM incident_memory m "
        "JOIN incidents i ON i.id = m.incident_id "
        "WHERE m.incident_id <> ? AND i.state = 'resolved' "
        "AND i.opened_at <= (SELECT opened_at FROM incidents WHERE id = ?) "
        "ORDER BY i.opened_at DESC LIMIT ?", (before_id, before_id, limit))
    return [{"incident_id": r[0], "text": r[1], "template_ids": json.loads(r[2]), "services": json.loads(r[3]),
             "root_cause_service": r[4], "root_cause_host": r[5], "title": r[6],
             "opened_at": r[7].isoformat() + "Z", "resolved_at": r[8].isoformat() + "Z" if r[8] else None,
             "state": r[9]} for r in rows]


def verdicts(db: Database, incident_ids: list[int]) -> dict[int, dict]:
    """The latest feedback per incident: {verdict, root_cause_service, root_cause_host, comment, at}."""
    if not incident_ids:
        return {}
    rows = db.fetchall("SELECT f.incident_id, f.verdict, f.root_cause_service, f.root_cause_host, f.comment, "
                       "f.created_at FROM feedback f WHERE f.id IN (SELECT MAX(id) FROM feedback WHERE incident_id IN ("
                       + ", ".join("?" * len(incident_ids)) + ") GROUP BY incident_id)", incident_ids)
    return {r[0]: {"verdict": r[1], "root_cause_service": r[2], "root_cause_host": r[3], "comment": r[4],
                   "at": r[5].isoformat() + "Z"} for r in rows}


def latest_verdict_rows(db: Database) -> list[tuple[str, dict | None, list[str]]]:
    """Each judged incident's latest verdict, its latest report (JSON) and the detectors that
    fired in it: (verdict, report or None, detectors)."""
    rows = db.fetchall(
        "SELECT f.verdict, r.report_json, (SELECT JSON_ARRAYAGG(DISTINCT s.detector) FROM incident_signals s "
        "WHERE s.incident_id = f.incident_id) FROM feedback f "
        "JOIN (SELECT MAX(id) id FROM feedback GROUP BY incident_id) last ON last.id = f.id "
        "LEFT JOIN incident_reports r ON r.id = (SELECT MAX(x.id) FROM incident_reports x "
        "WHERE x.incident_id = f.incident_id)")
    return [(v, json.loads(r) if r else None, json.loads(d) if d else []) for v, r, d in rows]
