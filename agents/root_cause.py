"""Root cause ranking: which service (and host) most likely started it, with reasons.

Every service in scope that shows an anomaly, and every service those depend on, is a
candidate. Its score adds up visible parts:
    onset      earlier first anomaly ranks higher (1 for the earliest, less per minute after)
    strength   how far its errors stood out from its own baseline (0..1)
    upstream   share of the other anomalous services that depend on it, transitively (the
               graph's edges plus the host layer: kernel, drivers, resolver under co-hosted services)
    named      share of the other anomalous services whose error lines name it (name, alias,
               host:port it listens on)
    host       catastrophic templates (disk full, OOM, read-only fs...) on its own host(s)
    quiet      it depends on no other anomalous service (nothing below it to blame)
Reasons cite template ids so every claim can be checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from agents.scope import MINUTE, Scope

WEIGHTS = {"onset": 0.25, "strength": 0.15, "upstream": 0.25, "named": 0.15, "host": 0.1, "quiet": 0.1}


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


def rank(scope: Scope, limit: int = 5) -> list[Candidate]:
    anomalous = scope.anomalous()
    if not anomalous:
        return []
    names = {v.name for v in anomalous}
    for view in anomalous:                                   # what they depend on is a suspect too
        names |= scope.upstream.get(view.name, set()) & set(scope.services)
    names |= set(scope.references) & set(scope.services)     # and what their errors name
    earliest = min(v.onset for v in anomalous)

    def reach(name: str) -> set[str]:
        """The hosts a service runs on, with those of what it depends on (not the host layer)."""
        hosts = set(scope.services[name].hosts)
        for dep in scope.upstream.get(name, set()):
            if dep in scope.services and scope.services[dep].layer is None:
                hosts |= scope.services[dep].hosts
        return hosts

    out = []
    for name in sorted(names):
        view = scope.services[name]
        others = [v.name for v in anomalous if v.name != name]
        if view.layer is not None:                # the host layer is beneath what runs on its failing hosts
            where = view.anomalous_hosts or view.hosts
            dependents = [o for o in others if name in scope.upstream.get(o, set()) and reach(o) & where]
            host_hits = [c for h in sorted(where) for c in scope.host_catastrophic.get(h, [])]
        else:
            dependents = [o for o in others if name in scope.upstream.get(o, set())]
            host_hits = [c for h in sorted(view.hosts) for c in scope.host_catastrophic.get(h, [])]
        above = [o for o in others if o in scope.upstream.get(name, set())
                 and (scope.services[o].layer is None or reach(name) & scope.services[o].anomalous_hosts)]
        parts = {
            "onset": 1 / (1 + (view.onset - earliest) / MINUTE / 2) if view.onset else 0.0,
            "strength": view.strength / 10,
            "upstream": len(dependents) / len(others) if others else 0.0,
            "named": len(view.named_by - {name}) / len(others) if others else 0.0,
            "host": min(1.0, len({p for p, _, _ in host_hits}) / 2),
            "quiet": 1.0 if view.anomalous and not above else 0.0,
        }
        reasons, evidence = [], []
        if view.onset:
            lead = int((min((v.onset for v in anomalous if v.name != name), default=view.onset) - view.onset) / MINUTE)
            reasons.append(f"first anomaly at {_hhmm(view.onset)}" + (f", {lead} min before the others" if lead > 0
                                                                       else ""))
        else:
            reasons.append("shows no anomaly itself; suspected because anomalous services depend on it")
        if view.strength >= 3:
            peak = max(view.window_errors.values(), default=0)
            base = sum(view.baseline_errors) / len(view.baseline_errors) if view.baseline_errors else 0
            reasons.append(f"errors peaked at {peak}/min against a baseline of {base:.1f}/min")
        new = [t for t in view.templates if t["baseline"] == 0 and t["level"] in ("error", "critical", "alert",
                                                                                    "emergency")]
        for row in new[:3]:
            reasons.append(f"new {row['level']} template [template:{row['template_id']}] x{row['count']}: "
                           f"{row['template'][:120]}")
            evidence.append(row["template_id"])
        if dependents:
            reasons.append(f"{len(dependents)} of {len(others)} other anomalous services depend on it: "
                           f"{', '.join(sorted(dependents))}")
        naming = scope.references.get(name, [])
        if naming:
            by = sorted({b for b, _ in naming})
            reasons.append(f"named in the errors of {', '.join(by)} [template:{naming[0][1]}]")
            evidence.append(naming[0][1])
        for primitive, template_id, host in host_hits[:3]:
            reasons.append(f"{primitive.replace('_', ' ')} on its host {host} [template:{template_id}]")
            evidence.append(template_id)
        if view.silent_since:
            reasons.append(f"went silent at {_hhmm(view.silent_since)}")
        if name in scope.slow:
            reasons.append(f"the durations it logs grew {scope.slow[name]}x against its baseline")
        if scope.error_origins.get(name):
            reasons.append(f"errors first appear here in {scope.error_origins[name]} traces")
        if above:
            reasons.append(f"depends on anomalous {', '.join(sorted(above))}")
        score = sum(WEIGHTS[k] * v for k, v in parts.items())
        host = _host(view, host_hits)
        top_errors = sorted((t for t in view.templates if t["level"] in ("error", "critical", "alert", "emergency")),
                            key=lambda t: -t["count"])[:2]
        evidence += [t["template_id"] for t in top_errors]
        out.append(Candidate(name, host, score, parts, reasons, list(dict.fromkeys(evidence))))
    out.sort(key=lambda c: (-c.score, c.service))
    return out[:limit]


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
