"""The incident's timeline: detector signals, first sightings of new or surging templates,
and minutes where a service's error rate left its baseline, in time order."""
from __future__ import annotations

from agents.scope import Scope

MAX_ENTRIES = 40


def build(scope: Scope, signals: list[dict]) -> list[dict]:
    entries = []
    for view in scope.services.values():
        if view.onset:
            entries.append({"at": view.onset.isoformat() + "Z", "service": view.name, "host": None,
                            "kind": "anomaly_onset", "text": f"{view.name}: first anomalous minute "
                            f"(strength {view.strength:.1f})", "template_id": None})
        for row in view.templates:
            surging = row["baseline"] == 0 or row["count"] >= 5 * max(1, row["baseline"])
            if surging and row["level"] in ("warning", "error", "critical", "alert", "emergency") and row["first"]:
                entries.append({"at": row["first"].isoformat() + "Z", "service": view.name, "host": row["host"],
                                "kind": "new_template" if row["baseline"] == 0 else "surge",
                                "text": f"[template:{row['template_id']}] {row['level']} x{row['count']}: "
                                        f"{row['template'][:160]}", "template_id": row["template_id"]})
    for sig in signals:
        entries.append({"at": sig["at"], "service": sig["service"], "host": sig["host"],
                        "kind": f"signal:{sig['detector']}", "text": sig["message"],
                        "template_id": sig["template_ids"][0] if sig["template_ids"] else None})
    entries.sort(key=lambda e: (e["at"], e["kind"] != "anomaly_onset", e["service"]))
    return entries[:MAX_ENTRIES]
