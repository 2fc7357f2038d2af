"""Similar past incidents: what each investigation concluded is remembered (its title,
hypothesis and cited templates' text embedded; its templates, services and root cause), and a
new incident finds the nearest resolved ones and what was found then, and whether a person
accepted it.

score = .45 templates (Jaccard of the cited templates) + .25 services (Jaccard) + .30 text
(cosine of the embedded texts); a past incident needs SIMILAR_MIN to be listed.

`root_cause_clues(similar)` is the one way a past verdict may reach a ranking: a verified
root cause (a verdict that accepted the report's, or a person's correction) of a similar
incident, as a small clue of its own named weight (PAST_ROOT_CAUSE_WEIGHT x similarity),
never the answer. agents/root_cause.py does not call it yet.
"""
from __future__ import annotations

import hashlib
import logging

from db import incidents as incident_sql
from db import memory as memory_sql
from db import memory_vectors as vectors
from db import templates as template_sql
from db.pool import Database
from ingest.embedders import Embedder, embedding_text

log = logging.getLogger(__name__)
W_TEMPLATES, W_SERVICES, W_TEXT = .45, .25, .30
SIMILAR_MIN = .2
PAST_ROOT_CAUSE_WEIGHT = .05
MAX_PAST = 500
TEXT_CHARS = 2000


def memory_text(title: str, hypothesis: str, template_texts: list[str]) -> str:
    return "\n".join([title, hypothesis, *template_texts])[:TEXT_CHARS]


def remember(db: Database, embedder: Embedder | None, incident: dict, report: dict, title: str | None) -> None:
    """Keep what this report concluded (rewritten by each report of the incident)."""
    ids = [int(t) for t in report.get("evidence_template_ids", [])]
    texts = [t["template"] for t in template_sql.get_many(db, ids).values()]
    text = memory_text(title or incident["title"], report.get("root_cause_hypothesis", ""), texts)
    services = sorted({*incident["services"], *report.get("impacted_services", []),
                       *([report["root_cause_service"]] if report.get("root_cause_service") else [])})
    table = vectors.ensure(db, "incident", embedder.name, embedder.dim) if embedder is not None else None
    with db.transaction() as cur:
        memory_sql.save(cur, incident["id"], text, ids, services, report.get("root_cause_service"),
                        report.get("root_cause_host"))
        vector = _embed(embedder, text) if table else None
        if vector is not None:
            vectors.store(cur, table, [(incident["id"], hashlib.sha256(text.encode()).hexdigest(), vector)])


def _embed(embedder: Embedder, text: str) -> bytes | None:
    """The text's vector; an embedder that fails (a model server down) costs only the text
    part of the similarity, never the report."""
    try:
        return embedder.embed([embedding_text(text)])[0].astype("<f4").tobytes()
    except Exception as exc:  # noqa: BLE001 - any embedder backend's failure
        log.warning("incident memory kept without a vector: the embedder failed (%s)", exc)
        return None


def _probe(db: Database, incident_id: int) -> dict | None:
    """This incident as a memory: its stored one, else one built from its signals (not yet
    investigated)."""
    found = memory_sql.get(db, incident_id)
    if found is not None:
        return found
    incident = incident_sql.get(db, incident_id)
    if incident is None:
        return None
    signals = incident_sql.signals(db, incident_id)
    ids = list(dict.fromkeys(int(t) for s in signals for t in s["template_ids"]))
    texts = [t["template"] for t in template_sql.get_many(db, ids).values()]
    return {"incident_id": incident_id, "text": memory_text(incident["title"], "", texts), "template_ids": ids,
            "services": incident["services"], "root_cause_service": None, "root_cause_host": None}


def _jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 0.0


def find_similar(db: Database, embedder: Embedder | None, incident_id: int, k: int = 5) -> list[dict] | None:
    """The nearest resolved past incidents, best first; None when there is no such incident."""
    probe = _probe(db, incident_id)
    if probe is None:
        return None
    past = memory_sql.past(db, incident_id, MAX_PAST)
    if not past:
        return []
    cosine: dict[int, float] = {}
    if embedder is not None:
        table = vectors.existing(db, "incident", embedder.name, embedder.dim)
        query = _embed(embedder, probe["text"]) if table else None
        if query is not None:
            cosine = vectors.incident_similarity(db, table, query, [p["incident_id"] for p in past])
    verdicts = memory_sql.verdicts(db, [p["incident_id"] for p in past])
    found = []
    for p in past:
        parts = {"templates": W_TEMPLATES * _jaccard(probe["template_ids"], p["template_ids"]),
                 "services": W_SERVICES * _jaccard(probe["services"], p["services"]),
                 "text": W_TEXT * max(0.0, cosine.get(p["incident_id"], 0.0))}
        score = sum(parts.values())
        if score < SIMILAR_MIN:
            continue
        verdict = verdicts.get(p["incident_id"])
        found.append({
            "incident_id": p["incident_id"], "title": p["title"], "opened_at": p["opened_at"],
            "resolved_at": p["resolved_at"], "score": round(score, 4),
            "components": {k: round(v, 4) for k, v in parts.items()},
            "shared_template_ids": sorted(set(probe["template_ids"]) & set(p["template_ids"])),
            "shared_services": sorted(set(probe["services"]) & set(p["services"])),
            "root_cause_service": p["root_cause_service"], "root_cause_host": p["root_cause_host"],
            "verdict": verdict, "verified_root_cause": _verified(p, verdict)})
    found.sort(key=lambda f: (-f["score"], -f["incident_id"]))
    return found[:max(1, min(k, 50))]


def _verified(past: dict, verdict: dict | None) -> str | None:
    """The root cause a person confirmed: the report's when accepted, the named one when
    rejected or partly right with a correction; else None."""
    if verdict is None:
        return None
    if verdict["verdict"] == "accept":
        return past["root_cause_service"]
    return verdict.get("root_cause_service")


def root_cause_clues(similar: list[dict], weight: float = PAST_ROOT_CAUSE_WEIGHT) -> dict[str, float]:
    """service -> a small bonus (weight x the past incident's similarity, the largest per
    service) for services a person verified as the root cause of a similar past incident.
    For the ranking to add as its own named part; never a replacement for the measured ones."""
    clues: dict[str, float] = {}
    for s in similar:
        if s.get("verified_root_cause"):
            clues[s["verified_root_cause"]] = max(clues.get(s["verified_root_cause"], 0.0), weight * s["score"])
    return clues


def feedback_summary(db: Database) -> dict[str, dict[str, dict[str, int]]]:
    """Each judged incident's latest verdict counted per detector that fired in it and per the
    ranking's rule that put its root cause first (the part with the largest lead over the
    second candidate, as the report's first reason says)."""
    by_detector: dict[str, dict[str, int]] = {}
    by_rule: dict[str, dict[str, int]] = {}
    for verdict, report, detectors in memory_sql.latest_verdict_rows(db):
        for detector in detectors or ["none"]:
            by_detector.setdefault(detector, {"accept": 0, "reject": 0, "partial": 0})[verdict] += 1
        by_rule.setdefault(rule_of(report), {"accept": 0, "reject": 0, "partial": 0})[verdict] += 1
    return {"by_detector": by_detector, "by_rule": by_rule}


def rule_of(report: dict | None) -> str:
    if not report or not report.get("candidates"):
        return "none"
    top = report["candidates"][0]
    if len(report["candidates"]) == 1:
        return "only_candidate"
    second = report["candidates"][1]
    parts = top.get("parts") or {}
    if not parts:
        return "none"
    return max(parts, key=lambda k: parts.get(k, 0.0) - (second.get("parts") or {}).get(k, 0.0))
