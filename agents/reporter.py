"""The report: a hypothesis, ranked candidates with reasons, confidence, timeline, impact,
evidence ids, what to do first and related runbooks; as JSON and as markdown."""
from __future__ import annotations

import re

from agents.root_cause import Candidate, confidence
from agents.scope import SEVERE, Scope
from detectors.catalogue import actions_for


def compose(scope: Scope, candidates: list[Candidate], timeline: list[dict], impact: dict,
            runbooks: list[dict], examples: dict[int, list[dict]]) -> dict:
    incident = scope.incident
    top = candidates[0] if candidates else None
    if top:
        where = f" on {top.host}" if top.host else ""
        hypothesis = (f"{top.service}{where} is the most likely root cause: " + "; ".join(top.reasons[:3]) + ".")
        if impact["impacted"]:
            hypothesis += f" It affects {', '.join(impact['impacted'])}."
    else:
        hypothesis = "No service shows an anomaly in this window; nothing to blame yet."
    hits = _hits(scope, top)
    actions = actions_for({p for p, _ in hits})
    if actions and top and top.host:
        paths = _paths(e["message"] for _, t in hits for e in examples.get(t, []))
        actions = [f"On {top.host}: {a}" for a in actions]
        if paths:
            actions[0] += f" (paths in the evidence: {', '.join(paths)})"
    actions += [f"Follow runbook {r['id']}: {r['title']}" + (f" ({r['path']})" if r["path"] else "") for r in runbooks]
    if top and not actions:
        first = top.evidence_template_ids[:1]
        actions.append(f"Start with {top.service}" + (f": read [template:{first[0]}] and its example lines"
                                                       if first else "'s logs around the first anomaly"))
    evidence = list(dict.fromkeys(t for c in candidates[:3] for t in c.evidence_template_ids))
    history = scope.history_minutes
    return {
        "incident_id": incident["id"],
        "root_cause_service": top.service if top else None,
        "root_cause_host": top.host if top else None,
        "root_cause_hypothesis": hypothesis,
        "confidence": confidence(candidates),
        "candidates": [c.as_dict() for c in candidates],
        "timeline": timeline,
        "impacted_services": impact["impacted"],
        "at_risk_services": impact["at_risk"],
        "also_anomalous": impact["also_anomalous"],
        "evidence_template_ids": evidence,
        "example_event_ids": {str(t): [e["id"] for e in examples.get(t, [])] for t in evidence},
        "suggested_actions": actions,
        "related_runbooks": runbooks,
        "window": {"start": incident["window_start"], "end": incident["window_end"]},
        "history_minutes": history,
        # what was compared with what: the window read (an incident from outside is read up
        # to now) and its baseline; with short history the window's own minutes are split
        # at the change point (split_at)
        "compared": {"baseline_since": _iso(scope.baseline_since), "since": _iso(scope.since),
                     "until": _iso(scope.until), "split_at": _iso(scope.split_at) if scope.split_at else None},
        "graph_used": scope.graph_ok,
    }


def _hits(scope: Scope, top: Candidate | None) -> list[tuple[str, int]]:
    """(primitive, template id) of the catastrophic failures seen first hand at the top
    candidate or on its host, in the order they were found."""
    if top is None:
        return []
    found = [(p, t) for p, t, _ in scope.host_catastrophic.get(top.host, [])] if top.host else []
    found += [(p, t) for p, t, _ in scope.services[top.service].catastrophic]
    return list(dict.fromkeys(found))


PATH = re.compile(r"(?<![\w/.:~-])(\.{1,2}/[\w.@%+=-]+(?:/[\w.@%+=-]+)*|/[\w.@%+=-]+(?:/[\w.@%+=-]+)+)")


def _paths(messages, limit: int = 3) -> list[str]:
    """Filesystem paths the evidence lines name (`/var/lib/mysql/ibdata1`, `./ibdata1`); URLs'
    paths and single-segment words like `/min` are not paths."""
    found: list[str] = []
    for message in messages:
        for match in PATH.finditer(message):
            if match.group(1) not in found:
                found.append(match.group(1))
    return found[:limit]


def title(scope: Scope, candidates: list[Candidate]) -> str | None:
    """The incident's title once a report concludes: what failed, where ("disk full on
    mariadb-vm (mariadb)"), instead of the first symptom that opened it."""
    if not candidates:
        return None
    top = candidates[0]
    view = scope.services[top.service]
    failures = list(dict.fromkeys(p for p, _ in _hits(scope, top)))
    if failures:
        what = " and ".join(p.replace("_", " ") for p in failures[:2])
    elif any(t["baseline"] == 0 and t["level"] in SEVERE for t in view.templates):
        what = "new errors"
    elif top.service in scope.slow or (scope.traces.get(top.service) and scope.traces[top.service].slow >= 1):
        what = "slowdown"
    elif view.silent_since:
        what = "silence"
    elif max(view.window_errors.values(), default=0) > 0:
        what = "errors"
    else:
        what = "changed behaviour"
    return f"{what} on {top.host} ({top.service})" if top.host else f"{what} on {top.service}"


def _iso(value) -> str:
    return value.isoformat() + "Z"


def markdown(report: dict, incident: dict, examples: dict[int, list[dict]]) -> str:
    lines = [f"# Incident {incident['id']}: {incident['title']}", "",
             f"**Root cause:** {report['root_cause_hypothesis']}", "",
             f"Confidence {report['confidence']:.2f}. Window {report['window']['start']} .. {report['window']['end']}; "
             f"{report['history_minutes']} min of history before it"
             + (f" (too little: split at the change point {report['compared']['split_at']})"
                if report.get("compared", {}).get("split_at") else "")
             + ("" if report["graph_used"] else "; the topology graph was unavailable") + ".", "",
             "## Candidates", ""]
    for i, c in enumerate(report["candidates"], 1):
        lines.append(f"{i}. **{c['service']}**" + (f" on {c['host']}" if c["host"] else "") + f" (score {c['score']:.2f})")
        lines += [f"   - {r}" for r in c["reasons"]]
    lines += ["", "## Impact", "",
              f"- impacted (anomalous, downstream): {', '.join(report['impacted_services']) or 'none'}",
              f"- at risk (downstream, quiet so far): {', '.join(report['at_risk_services']) or 'none'}"]
    if report["also_anomalous"]:
        lines.append(f"- also anomalous, not connected in the graph: {', '.join(report['also_anomalous'])}")
    lines += ["", "## Timeline", ""]
    lines += [f"- {e['at']} {e['service']}: {e['text']}" for e in report["timeline"]]
    lines += ["", "## Evidence", ""]
    for template_id in report["evidence_template_ids"]:
        lines.append(f"- [template:{template_id}]")
        lines += [f"  - [{e['id']}] {e['ts']} {e['host']}: {e['message']}" for e in examples.get(template_id, [])]
    metrics = report.get("metrics")
    if metrics:
        lines += ["", "## Metrics (Prometheus)", ""]
        for m in metrics["snapshots"]:
            before = f", before {m['prev_mean']:.3g}" if m["prev_mean"] is not None else ""
            lines.append(f"- {m['service']} {m['name']}: mean {m['mean']:.3g}, max {m['max']:.3g}{before}")
        lines += [f"- not available: {p}" for p in metrics["problems"][:5]]
    similar = report.get("similar_incidents") or []
    if similar:
        lines += ["", "## Similar past incidents", ""]
        for p in similar[:3]:
            then = p["root_cause_service"] or "no root cause"
            then += f" on {p['root_cause_host']}" if p.get("root_cause_host") else ""
            verdict = p.get("verdict")
            judged = ("not judged" if verdict is None else
                      "accepted" if verdict["verdict"] == "accept" else
                      f"{'rejected' if verdict['verdict'] == 'reject' else 'partly right'}"
                      + (f": it was {verdict['root_cause_service']}" if verdict.get("root_cause_service") else ""))
            shared = ", ".join(filter(None, [f"{len(p['shared_template_ids'])} templates" if p["shared_template_ids"]
                                             else "", ", ".join(p["shared_services"])]))
            lines.append(f"- [incident:{p['incident_id']}] {p['title']} (similarity {p['score']:.2f}"
                         + (f"; shared: {shared}" if shared else "") + f"): found {then} then; {judged}")
    lines += ["", "## What to do", ""] + [f"- {a}" for a in report["suggested_actions"]]
    book = report.get("runbook_steps")
    if book and book["steps"]:
        lines += ["", f"## Runbook: {book['title']}", ""]
        lines += [f"{i}. {s['text']} [runbook:{s['runbook_section']}]" for i, s in enumerate(book["steps"], 1)]
    others = [s for s in report.get("runbook_sections") or [] if not book or s["runbook_id"] != book["runbook_id"]]
    if others:
        lines += ["", "Other runbook sections that match:"]
        lines += [f"- [runbook:{s['runbook_section']}] {s['title']}: {s['heading']}" for s in others[:3]]
    return "\n".join(lines) + "\n"
