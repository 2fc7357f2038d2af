"""Root cause ranking: which service (and host) most likely started it, with reasons.

The score comes from what changed, measured (agents/change.py, agents/trace_change.py):
    change     how far the service's own window departs from its own baseline (templates that
               rose, appeared or stopped; its error share; its volume falling; its own time
               and template sequences inside traces), 0..1. A service whose errors are only
               named by others gets part of their change (it was blamed, not measured).
The graph (written edges, trace calls, the host layer) then says how the changes relate,
and only scales a service's own change, so centrality never lifts a calm service:
    explains   the share of the other services' change that depends on it (transitively)
    quiet      nothing it depends on changed (there is nothing beneath it to blame)
    onset      earlier first anomaly ranks a little higher
    host       catastrophic templates (disk full, OOM, read-only fs...) on its own host(s)
    named      share of the other anomalous services whose error lines name it (or whose changed
               lines of any level name it, a dependency: agents/references.blame_named_in_changes)
    past       a person verified it as the root cause of a similar past incident (issue 21's
               memory: retrieval/similar.root_cause_clues, at most .05 x that similarity);
               a clue, never a candidate by itself
    score = change * (.4 + .35 explains + .25 quiet) + .1 onset + .08 host + .05 named + past
Reasons cite template ids so every claim can be checked, and say which signal led.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from agents.scope import MINUTE, Scope

from agents.change import CHANGED, SCALE

BASE, EXPLAINS, QUIET = 0.4, 0.35, 0.25
CLAIMED = 0.25                  # the share of its score a candidate another incident blames keeps (_claimed)
WEIGHTS = {"onset": 0.1, "host": 0.08, "named": 0.05}
BLAMED = 0.85                     # a calm service named in others' errors inherits this share of their change


@dataclass
class Candidate:
    service: str
    host: str | None
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    evidence_template_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"service": self.service, "host": self.host, "score": round(self.score, 4),
                "parts": {k: round(v, 3) for k, v in self.parts.items()}, "reasons": self.reasons,
                "evidence_template_ids": self.evidence_template_ids}


def _hhmm(minute) -> str:
    return minute.strftime("%H:%M")


def own_change(scope: Scope) -> dict[str, float]:
    """Each service's measured change, 0..1; a calm service that others' errors (or the
    traces' first errors) blame inherits part of its blamers' change."""
    measured = {n: (v.change.score if v.change is not None else 0.0) for n, v in scope.services.items()}
    if scope.baseline_since >= scope.since:
        # no baseline at all, nothing to measure against: what the onset rules saw (new error
        # templates, catastrophic lines), and where the traces' first errors are
        erring = sum(scope.error_origins.values())
        for name, view in scope.services.items():
            if view.anomalous:
                origin = scope.error_origins.get(name, 0) / erring if erring else 0.0
                measured[name] = max(measured[name], 1 - math.exp(-(view.strength + 3 * origin) / SCALE))
    out = dict(measured)
    # errors that name a service blame it; a trace whose first error is a timeout after calls
    # to several callees suspects each of them, so that blame is split among them
    suspects: dict[str, int] = {}
    for name, view in scope.services.items():
        for b in view.suspected_by - {name}:
            suspects[b] = suspects.get(b, 0) + 1
    for name, view in scope.services.items():
        blamers = [measured.get(b, 0.0) for b in view.named_by if b != name]
        blamers += [measured.get(b, 0.0) / suspects[b] for b in view.suspected_by if b != name]
        if blamers and view.anomalous:
            out[name] = max(out[name], BLAMED * max(blamers))
        if view.anomalous and (view.catastrophic or view.silent_since):   # known failure lines, or silence
            out[name] = max(out[name], 1 - math.exp(-view.strength / SCALE))
    return out


def rank(scope: Scope, limit: int = 8, past: dict[str, float] | None = None) -> list[Candidate]:
    """`past`: service -> bonus from similar past incidents' verified root causes (added as
    its own part; it only reorders candidates the measurements found)."""
    past = past or {}
    changes = own_change(scope)
    floor = 1 - math.exp(-CHANGED / SCALE)
    changed = {n for n, c in changes.items() if c >= floor}
    anomalous = scope.anomalous()
    # nothing stands out: still name the few that changed most (an operator asked; a weak
    # ranking with low confidence says more than none)
    weakest = sorted((n for n, c in changes.items() if c > 0), key=lambda n: -changes[n])[:3]
    if not anomalous and not changed and not weakest:
        return []
    names = {v.name for v in anomalous} | changed | set(weakest)
    for name in list(names):                                 # what they depend on is a suspect too
        names |= scope.upstream.get(name, set()) & set(scope.services)
    names |= set(scope.references) & set(scope.services)     # and what their errors name
    onsets = [v.onset for v in anomalous if v.onset] + [scope.since for n in changed
                                                        if scope.services[n].onset is None]
    earliest = min(onsets) if onsets else scope.since

    def reach(name: str) -> set[str]:
        """The hosts a service runs on, with those of what it depends on (not the host layer)."""
        hosts = set(scope.services[name].hosts)
        for dep in scope.upstream.get(name, set()):
            if dep in scope.services and scope.services[dep].layer is None:
                hosts |= scope.services[dep].hosts
        return hosts

    def depends_on(other: str, name: str) -> bool:
        """`other` sits above `name` (graph, traces, or the host layer under its failing hosts).
        Two services that each reach the other (a cycle in the edges, or traces read both
        ways) say nothing about which is beneath: neither is."""
        if name not in scope.upstream.get(other, set()) or other in scope.upstream.get(name, set()):
            return False
        view = scope.services[name]
        return view.layer is None or bool(reach(other) & (view.anomalous_hosts or view.hosts))

    total_change = sum(changes[n] for n in changed)
    out = []
    for name in sorted(names):
        view = scope.services[name]
        mine = changes.get(name, 0.0)
        others = [v.name for v in anomalous if v.name != name] + sorted(changed - {name} - {v.name for v in anomalous})
        dependents = [o for o in others if depends_on(o, name)]
        rest = total_change - (changes[name] if name in changed else 0.0)
        explains = min(1.0, sum(changes[o] for o in dependents if o in changed) / rest) if rest > 0 else 0.0
        below = [o for o in others if depends_on(name, o) and changes.get(o, 0.0) >= floor]
        if view.layer is not None:
            where = view.anomalous_hosts or view.hosts
            host_hits = [c for h in sorted(where) for c in scope.host_catastrophic.get(h, [])]
        else:
            host_hits = [c for h in sorted(view.hosts) for c in scope.host_catastrophic.get(h, [])]
        first = view.onset or (scope.since if name in changed else None)
        parts = {
            "change": mine,
            "explains": explains,
            # how little of its change what it depends on could explain: a dependency that changed
            # at least half as much explains all of it, one that barely changed explains little
            "quiet": 1.0 - max((min(1.0, 2 * changes[o] / mine) for o in below), default=0.0) if mine > 0 else
            (0.0 if below else 1.0),
            "onset": 1 / (1 + (first - earliest) / MINUTE / 2) if first and mine > 0 else 0.0,
            "host": min(1.0, len({p for p, _, _ in host_hits}) / 2),
            "named": len((view.named_by | view.suspected_by) - {name}) / len(others) if others else 0.0,
        }
        score = mine * (BASE + EXPLAINS * parts["explains"] + QUIET * parts["quiet"]) + sum(
            WEIGHTS[k] * parts[k] for k in WEIGHTS)
        reasons, evidence = _reasons(scope, view, name, anomalous, dependents, others, host_hits, below)
        if past.get(name, 0.0) > 0 and (name in changed or view.anomalous):
            parts["past"] = past[name]
            score += past[name]
            reasons.append("a person verified it as the root cause of a similar past incident "
                           "(GET /incidents/{id}/similar)")
        elsewhere = _claimed(scope, name)
        if elsewhere is not None:
            score *= CLAIMED
            reasons.append(f"already the root cause of incident {elsewhere}, on no dependency chain with this "
                           "incident's signals")
        host = _host(view, host_hits)
        top_errors = sorted((t for t in view.templates if t["level"] in ("error", "critical", "alert", "emergency")),
                            key=lambda t: -t["count"])[:2]
        evidence += [t["template_id"] for t in top_errors]
        out.append(Candidate(name, host, score, parts, reasons, list(dict.fromkeys(evidence))))
    out.sort(key=lambda c: (-c.score, c.service))
    if out:
        out[0].reasons.insert(0, _lead(out[0], out[1] if len(out) > 1 else None))
    return out[:limit]


PART_WORDS = {"past": "a similar past incident's verified root cause", "change": "its own change", "explains": "how much of the others' change depends on it",
              "quiet": "nothing beneath it changed", "onset": "it changed first", "host": "its host's failures",
              "named": "others' errors name it"}


def _claimed(scope: Scope, name: str) -> int | None:
    """Another incident whose report blames `name`, when `name` is on no dependency chain
    with the services this incident's own signals are on (not counting those the other
    incident has too): its change is that fault's, and a new fault elsewhere should not be
    pinned on it. (One fault, one incident, both ways.)"""
    if name not in scope.claimed or name in scope.signalled:
        return None
    other, theirs = scope.claimed[name]
    # a symptom both incidents share (an API in front of both faults) ties neither to the other
    own = {s: h for s, h in scope.signalled.items() if s not in theirs}
    if not own:
        return None
    for service, hosts in own.items():
        view = scope.services.get(service)
        if view is not None and view.layer is not None:       # the kernel is beneath everything on its host
            if hosts & scope.services[name].hosts:
                return None
        elif name in scope.upstream.get(service, set()) or service in scope.upstream.get(name, set()):
            return None
    return other


def _lead(top: Candidate, second: Candidate | None) -> str:
    """Which signal put the first candidate first."""
    if second is None:
        return "ranked first: the only candidate"
    gains = {k: top.parts.get(k, 0.0) - second.parts.get(k, 0.0) for k in top.parts}
    key = max(gains, key=gains.get)
    return f"ranked first by {PART_WORDS.get(key, key)} (ahead of {second.service})"


def _reasons(scope: Scope, view, name: str, anomalous, dependents, others, host_hits, below):
    reasons, evidence = [], []
    if view.onset:
        lead = int((min((v.onset for v in anomalous if v.name != name), default=view.onset) - view.onset) / MINUTE)
        reasons.append(f"first anomaly at {_hhmm(view.onset)}" + (f", {lead} min before the others" if lead > 0
                                                                   else ""))
    change = view.change
    if change is not None and change.changed:
        signal = change.top_signal()
        reasons.append(f"its own lines changed against its baseline (surprise {change.own:.1f} beyond the fleet's, "
                       f"led by {signal})")
        for row in change.templates[:3]:
            if row.surprise < 1:
                break
            reasons.append(f"{row.kind} {row.level} template [template:{row.template_id}]: {row.window} in the window "
                           f"against {row.expected:.1f} expected: {row.template[:100]}")
            evidence.append(row.template_id)
    elif not view.onset:
        reasons.append("shows no change itself; suspected because changed services depend on it")
    peak = max(view.window_errors.values(), default=0)
    base = sum(view.baseline_errors) / len(view.baseline_errors) if view.baseline_errors else 0
    if view.strength >= 3 and peak > base:          # a silent or slow service's strength is no error peak
        reasons.append(f"errors peaked at {peak}/min against a baseline of {base:.1f}/min")
    listed = set(evidence)
    new = [t for t in view.templates if t["baseline"] == 0 and t["level"] in ("error", "critical", "alert", "emergency")
           and t["template_id"] not in listed]
    for row in new[:3]:
        reasons.append(f"new {row['level']} template [template:{row['template_id']}] x{row['count']}: "
                       f"{row['template'][:120]}")
        evidence.append(row["template_id"])
    found = scope.traces.get(name)
    if found is not None:
        if found.slow >= 1 and found.median_ms:
            reasons.append(f"its own time inside traces grew from {found.median_ms[0]:.0f} to {found.median_ms[1]:.0f} "
                           f"ms (median of {found.window_traces} traces)")
        if found.paths >= 1 and found.novel:
            reasons.append(f"{found.novel[0]} of {found.novel[1]} of its traces took a sequence never seen before")
        if found.after >= 1 and found.after_of:
            reasons.append("its callers' traces depart from their usual sequence right after its lines: "
                           + ", ".join(f"{c} ({n})" for c, n in sorted(found.after_of.items())))
    if dependents:
        reasons.append(f"{len(dependents)} of {len(others)} other changed services depend on it: "
                       f"{', '.join(sorted(dependents))}")
    naming = scope.references.get(name, [])
    if naming:
        by = sorted({b for b, _ in naming})
        reasons.append(f"named in the errors of {', '.join(by)} [template:{naming[0][1]}]")
        evidence.append(naming[0][1])
    for primitive, template_id, host in host_hits[:3]:
        reasons.append(f"{primitive.replace('_', ' ')} on its host {host} [template:{template_id}]")
        evidence.append(template_id)
    for primitive, template_id, origin in view.relayed[:2]:
        reasons.append(f"relays {primitive.replace('_', ' ')} from {origin} [template:{template_id}]")
        evidence.append(template_id)
    if view.silent_since:
        reasons.append(f"went silent at {_hhmm(view.silent_since)}")
    if name in scope.slow:
        reasons.append(f"the durations it logs grew {scope.slow[name]}x against its baseline")
    timed = scope.durations.get(name)
    if timed is not None and timed.surprise >= 1 and name not in scope.slow:
        before, now = timed.median_s
        reasons.append(f"the durations its lines report grew from {before * 1e3:.1f} to {now * 1e3:.1f} ms (median of "
                       f"{timed.samples[1]} lines) [template:{timed.template_id}]")
        evidence.append(timed.template_id)
    if scope.error_origins.get(name):
        reasons.append(f"errors first appear here in {scope.error_origins[name]} traces")
    if below:
        reasons.append(f"depends on changed {', '.join(sorted(below))}")
    return reasons, evidence


def _host(view, host_hits) -> str | None:
    if len(view.anomalous_hosts) == 1:
        return next(iter(view.anomalous_hosts))
    own = [h for h in host_hits if h[2] in view.hosts]
    if own:
        return own[0][2]
    if len(view.hosts) == 1:
        return next(iter(view.hosts))
    busiest: dict[str, int] = {}
    for row in view.templates:
        if row["level"] in ("error", "critical", "alert", "emergency"):
            busiest[row["host"]] = busiest.get(row["host"], 0) + row["count"]
    return max(busiest, key=busiest.get) if busiest else None


def confidence(candidates: list[Candidate]) -> float:
    """High when one candidate clearly leads and carries evidence; low when it is a toss-up."""
    if not candidates:
        return 0.0
    top = candidates[0].score
    gap = top - (candidates[1].score if len(candidates) > 1 else 0.0)
    return round(max(0.05, min(0.95, 0.5 * top + gap)), 2)
