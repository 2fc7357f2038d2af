"""A postmortem draft in Markdown, from what is stored: the incident, its signals, its latest
report, the verdict, the minute rollups (durations), runbooks and similar past incidents.

Everything that came from logs or from outside (titles, template text, example lines,
signal messages, comments) is escaped, so a log line cannot add a heading, a link, an image
or HTML to the draft; only our own citations (`[template:ID]`, ...) stay live.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from agents.citations import CITE, Evidence
from db import counts
from db import events
from db import incidents as incident_sql
from db import memory as memory_sql
from db.pool import Database
from retrieval.similar import find_similar

# what can start markup inside a line (`-`, `+`, `1.` only matter at a line's start, and every
# line here starts with our own text)
_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def escape(text) -> str:
    """Untrusted text as inert Markdown on one line: HTML characters as entities, Markdown's
    punctuation backslashed, newlines as spaces."""
    text = str(text if text is not None else "")
    text = re.sub(r"[\r\n\t\x00-\x08\x0b-\x1f]+", " ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def escape_keeping_citations(text: str, allowed: set[str]) -> str:
    """escape(), except the citations of ids the report itself holds (a log line that
    spells `[template:1]` is escaped like the rest of it)."""
    out, last = [], 0
    for m in CITE.finditer(text or ""):
        if f"{m.group(1)}:{m.group(2)}" in allowed:
            out += [escape(text[last:m.start()]), m.group(0)]
            last = m.end()
    return "".join([*out, escape((text or "")[last:])])


def _report_ids(report: dict | None) -> set[str]:
    if not report:
        return set()
    found = Evidence().add_data(report)
    found.ids |= {f"template:{e['template_id']}" for e in report.get("timeline", []) if e.get("template_id")}
    return found.ids


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.rstrip("Z")) if value else None


def _minutes(a: datetime | None, b: datetime | None) -> str:
    if a is None or b is None:
        return "unknown"
    return f"{max(0.0, (b - a).total_seconds()) / 60:.0f} min"


def impact_rows(db: Database, services: list[str], since: datetime, until: datetime,
                baseline_since: datetime | None) -> list[dict]:
    """Per service, from the rollups: minutes with errors in the window, the first and last
    of them, error lines, and errors per minute before the window."""
    rows = counts.service_minutes(db, services, baseline_since or since, until)
    out = []
    for service in services:
        during = sorted({m for m, s, _, _, e in rows if s == service and e > 0 and m >= since})
        errors = sum(e for m, s, _, _, e in rows if s == service and m >= since)
        before = sum(e for m, s, _, _, e in rows if s == service and m < since)
        span = (since - baseline_since).total_seconds() / 60 if baseline_since and baseline_since < since else 0
        out.append({"service": service, "error_minutes": len(during), "errors": errors,
                    "first": during[0] if during else None, "last": during[-1] if during else None,
                    "before_per_min": before / span if span else None})
    return out


def build(db: Database, incident_id: int, embedder=None) -> str | None:
    incident = incident_sql.get(db, incident_id)
    if incident is None:
        return None
    signals = incident_sql.signals(db, incident_id)
    report = incident_sql.latest_report(db, incident_id)
    verdict = memory_sql.verdicts(db, [incident_id]).get(incident_id)
    opened, resolved = _dt(incident["opened_at"]), _dt(incident["resolved_at"])
    allowed = _report_ids(report)
    lines = [f"# Postmortem (draft): incident {incident_id}: {escape(incident['title'])}", "",
             "_Drafted by DevMesh from the stored incident, its report, the verdict and the minute rollups; "
             "check every line before you publish it._", "", "## Summary", ""]
    lines += [f"- State: {incident['state']} (investigation {incident['status']}), severity {incident['severity']}",
              f"- Window: {incident['window_start']} .. {incident['window_end']}",
              f"- Opened {incident['opened_at']}" + (f", resolved {incident['resolved_at']} "
                                                     f"({_minutes(opened, resolved)} open)" if resolved else
                                                     ", not resolved")]
    if report:
        lines.append(f"- Root cause (DevMesh, confidence {report['confidence']:.2f}): "
                     f"{escape_keeping_citations(report['root_cause_hypothesis'], allowed)}")
    if verdict:
        said = {"accept": "accepted", "reject": "rejected", "partial": "partly right"}[verdict["verdict"]]
        lines.append(f"- Verdict: {said}" + (f"; the root cause was {escape(verdict['root_cause_service'])}"
                                              + (f" on {escape(verdict['root_cause_host'])}"
                                                 if verdict.get("root_cause_host") else "")
                                              if verdict.get("root_cause_service") else "")
                     + (f" ({escape(verdict['comment'])})" if verdict.get("comment") else ""))
    lines += ["", "## Impact", ""]
    if report:
        compared = report.get("compared") or {}
        since = _dt(compared.get("since")) or _dt(incident["window_start"])
        until = _dt(compared.get("until")) or _dt(incident["window_end"])
        affected = list(dict.fromkeys([*(report["root_cause_service"] and [report["root_cause_service"]] or []),
                                       *report["impacted_services"]]))
        for row in impact_rows(db, affected, since, until, _dt(compared.get("baseline_since"))):
            if not row["error_minutes"]:
                lines.append(f"- {escape(row['service'])}: no error lines in the window")
                continue
            before = (f", {row['before_per_min']:.2f}/min before" if row["before_per_min"] is not None else "")
            lines.append(f"- {escape(row['service'])}: errors in {row['error_minutes']} minute(s) from "
                         f"{row['first']:%H:%M} to {row['last']:%H:%M} "
                         f"({_minutes(row['first'], row['last'] + timedelta(minutes=1))}), {row['errors']} error "
                         f"lines{before}")
        if report["at_risk_services"]:
            lines.append(f"- At risk (downstream, quiet): {', '.join(escape(s) for s in report['at_risk_services'])}")
    else:
        lines.append("- Not investigated: no report to measure the impact from (run `devmesh investigate ID`).")
    lines += ["", "## Timeline", ""]
    entries = (report or {}).get("timeline") or [{"at": s["at"], "service": s["service"],
                                                  "text": f"{s['detector']}: {s['message']}"} for s in signals]
    timeline = [(e["at"], f"{escape(e['service'])}: {escape_keeping_citations(e['text'], allowed)}")
                for e in entries[:40]]
    timeline.append((incident["opened_at"], f"incident opened ({incident['trigger']})"))
    if report:
        timeline.append((report["created_at"], "report written"))
    if resolved:
        timeline.append((incident["resolved_at"], f"resolved by {escape(incident['resolved_by'] or 'someone')}"))
    lines += [f"- {at} {what}" for at, what in sorted(timeline, key=lambda t: t[0])]
    lines += ["", "## Root cause", ""]
    if report and report["candidates"]:
        top = report["candidates"][0]
        lines.append(f"**{escape(top['service'])}**" + (f" on {escape(top['host'])}" if top["host"] else "")
                     + f" (score {top['score']:.2f})")
        lines += [f"- {escape_keeping_citations(r, allowed)}" for r in top["reasons"]]
        samples = events.examples(db, report["evidence_template_ids"][:3], 1)
        for template_id in report["evidence_template_ids"][:3]:
            for e in samples.get(template_id, []):
                lines.append(f"- [template:{template_id}] [event:{e['id']}] {escape(e['message'][:300])}")
    else:
        lines.append("No root cause was named.")
    lines += ["", "## What went well, what went badly", ""]
    lines += [f"- {f}" for f in facts(incident, signals, report, verdict)]
    lines += ["", "## Action items", ""]
    actions = (report or {}).get("suggested_actions") or []
    lines += [f"- [ ] {escape_keeping_citations(a, allowed)}" for a in actions]
    book = (report or {}).get("runbook_steps")
    if book and book["steps"]:
        lines += [f"- [ ] Runbook {escape(book['title'])}, step {i}: {escape(s['text'])} [runbook:{s['runbook_section']}]"
                  for i, s in enumerate(book["steps"], 1)]
    elif report and report.get("root_cause_service") and not report.get("related_runbooks"):
        lines.append(f"- [ ] Write a runbook for {escape(report['root_cause_service'])} "
                     "(`devmesh runbooks ingest DIR`): none matched this incident")
    if verdict and verdict["verdict"] != "accept":
        lines.append(f"- [ ] Keep this incident as an eval case: `devmesh eval capture {incident_id} DIR`")
    similar = find_similar(db, embedder, incident_id) or []
    if similar:
        lines += ["", "## Similar past incidents", ""]
        lines += [f"- [incident:{s['incident_id']}] {escape(s['title'])} (similarity {s['score']:.2f}): root cause then "
                  f"{escape(s['root_cause_service'] or 'none')}"
                  + (f", verified {escape(s['verified_root_cause'])}" if s["verified_root_cause"] else "")
                  for s in similar]
    return "\n".join(lines) + "\n"


def facts(incident: dict, signals: list[dict], report: dict | None, verdict: dict | None) -> list[str]:
    """What went well and badly, as facts read from the data (no judgement of people)."""
    out = []
    onsets = [_dt(e["at"]) for e in (report or {}).get("timeline", []) if e.get("kind") == "anomaly_onset"]
    first_signal = _dt(signals[0]["at"]) if signals else None
    if onsets and first_signal:
        out.append(f"Detection: the first signal ({signals[0]['detector']}) came "
                   f"{_minutes(min(onsets), first_signal)} after the first anomalous minute")
    elif not signals:
        out.append(f"Detection: no detector fired; the incident was opened from outside ({incident['trigger']})")
    if report:
        out.append(f"Diagnosis: the report was written {_minutes(_dt(incident['opened_at']), _dt(report['created_at']))} "
                   f"after the incident opened, with confidence {report['confidence']:.2f}")
        if not report.get("graph_used", True):
            out.append("The topology graph was unavailable to the investigation")
        if report.get("compared", {}).get("split_at"):
            out.append("Too little history before the window: the baseline was the window's own first minutes")
        if not report.get("runbook_steps"):
            out.append("No runbook document matched the incident" + (
                " (the inventory names one; ingest it with `devmesh runbooks ingest DIR`)"
                if report.get("related_runbooks") else ""))
    else:
        out.append("No investigation report was written")
    if verdict:
        out.append({"accept": "The root cause named was accepted",
                    "reject": "The root cause named was rejected",
                    "partial": "The root cause named was partly right"}[verdict["verdict"]])
    else:
        out.append("Nobody has judged the report yet (POST /incidents/ID/feedback)")
    return out
