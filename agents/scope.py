"""What an investigation looks at: the services in scope and what their rollups say.

Scope = the incident's services, what they depend on (upstream, within 3 hops), and what
shares their hosts; for a fleet-wide incident (no service), every service that logged in
the window. Each service gets its per-minute series for the window and the baseline before
it (as much as exists, up to `baseline_minutes`), and its active templates with their
baseline counts and catastrophic matches; hosts get the catastrophic templates seen on them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from db import counts
from db import graph as cypher
from db.graph import Graph, GraphUnavailable
from db.pool import Database
from detectors.catalogue import match

MINUTE = timedelta(minutes=1)


@dataclass
class ServiceView:
    name: str
    hosts: set[str] = field(default_factory=set)
    window_errors: dict[datetime, int] = field(default_factory=dict)
    window_total: dict[datetime, int] = field(default_factory=dict)
    baseline_errors: list[int] = field(default_factory=list)      # per minute, zeros included
    baseline_total: list[int] = field(default_factory=list)
    templates: list[dict] = field(default_factory=list)           # active in the window
    onset: datetime | None = None                                 # first anomalous minute
    strength: float = 0.0                                         # how anomalous (z-like, capped)
    catastrophic: list[tuple[str, int, str]] = field(default_factory=list)   # (primitive, template id, host)
    silent_since: datetime | None = None

    @property
    def anomalous(self) -> bool:
        return self.onset is not None


@dataclass
class Scope:
    incident: dict
    since: datetime
    until: datetime
    baseline_since: datetime
    history_minutes: int
    services: dict[str, ServiceView] = field(default_factory=dict)
    hops: dict[str, int] = field(default_factory=dict)
    upstream: dict[str, set[str]] = field(default_factory=dict)   # service -> what it depends on
    host_catastrophic: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)
    graph_ok: bool = True

    def anomalous(self) -> list[ServiceView]:
        return sorted((v for v in self.services.values() if v.anomalous), key=lambda v: (v.onset, v.name))


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.rstrip("Z"))


def gather(db: Database, graph: Graph | None, incident: dict, signals: list[dict],
           baseline_minutes: int = 240) -> Scope:
    since, until = _parse(incident["window_start"]), _parse(incident["window_end"])
    focus = sorted(set(incident["services"]) | ({incident["service"]} if incident["service"] else set()))
    scope = Scope(incident, since, until, since, 0)
    if focus and graph is not None:
        try:
            for name in focus:
                scope.hops.setdefault(name, 0)
                for other, hops in cypher.upstream(graph, name, 3):
                    scope.hops[other] = min(scope.hops.get(other, hops), hops)
                for other, _host in cypher.co_hosted(graph, name):
                    scope.hops.setdefault(other, 2)
        except GraphUnavailable:
            scope.graph_ok = False
    names = sorted(scope.hops) if scope.hops else focus
    history = counts.history_start(db, names) if names else None
    if not names:                                          # fleet-wide: whoever logged in the window
        names = sorted({row["service"] for row in counts.templates_in(db, None, None, since, until, since, 5000)})
        history = counts.history_start(db, names) if names else None
    scope.baseline_since = max(history or since, since - timedelta(minutes=baseline_minutes))
    scope.history_minutes = int((since - history) / MINUTE) if history and history < since else 0
    if graph is not None and scope.graph_ok:
        try:
            for name in names:
                scope.upstream[name] = {s for s, _ in cypher.upstream(graph, name, 4)}
        except GraphUnavailable:
            scope.graph_ok = False
    for name in names:
        scope.services[name] = ServiceView(name)
    baseline_len = max(0, int((since - scope.baseline_since) / MINUTE))
    base_errors: dict[str, dict[datetime, int]] = {n: {} for n in names}
    base_total: dict[str, dict[datetime, int]] = {n: {} for n in names}
    for minute, service, host, total, errors in counts.service_minutes(db, names, scope.baseline_since, until):
        view = scope.services[service]
        view.hosts.add(host)
        if minute >= since:
            view.window_errors[minute] = view.window_errors.get(minute, 0) + errors
            view.window_total[minute] = view.window_total.get(minute, 0) + total
        else:
            base_errors[service][minute] = base_errors[service].get(minute, 0) + errors
            base_total[service][minute] = base_total[service].get(minute, 0) + total
    for name, view in scope.services.items():
        minutes = [scope.baseline_since + i * MINUTE for i in range(baseline_len)]
        view.baseline_errors = [base_errors[name].get(m, 0) for m in minutes]
        view.baseline_total = [base_total[name].get(m, 0) for m in minutes]
    rows = counts.templates_in(db, names, None, since, until, scope.baseline_since)
    hosts = sorted({h for v in scope.services.values() for h in v.hosts})
    rows += [r for r in counts.templates_in(db, None, hosts, since, until, scope.baseline_since)
             if r["service"] not in scope.services] if hosts else []
    for row in rows:
        for primitive in match(row["template"]):
            entry = (primitive.name, row["template_id"], row["host"])
            scope.host_catastrophic.setdefault(row["host"], []).append(entry)
            if row["service"] in scope.services:
                scope.services[row["service"]].catastrophic.append(entry)
        if row["service"] in scope.services:
            scope.services[row["service"]].templates.append(row)
    for signal in signals:
        if signal["detector"] == "silence" and signal["service"] in scope.services:
            quiet = timedelta(minutes=signal.get("detail", {}).get("quiet_minutes", 0))
            scope.services[signal["service"]].silent_since = _parse(signal["at"]) - quiet + MINUTE
    for view in scope.services.values():
        _assess(view, since, until)
    return scope


def _assess(view: ServiceView, since: datetime, until: datetime) -> None:
    """Onset = the first window minute whose errors stand out from the baseline (or that
    brings a new error template, or silence); strength = how far out, capped at 10."""
    n = len(view.baseline_errors)
    mean = sum(view.baseline_errors) / n if n else 0.0
    sigma = math.sqrt(sum((x - mean) ** 2 for x in view.baseline_errors) / n) if n else 0.0
    sigma = max(sigma, 1.0, 0.5 * math.sqrt(mean))
    best = 0.0
    minute = since.replace(second=0, microsecond=0)
    while minute < until:
        errors = view.window_errors.get(minute, 0)
        z = (errors - mean) / sigma
        if errors >= 3 and z >= 3 and view.onset is None:
            view.onset = minute
        best = max(best, z)
        minute += MINUTE
    for row in view.templates:
        brand_new = row["baseline"] == 0 and row["level"] in ("error", "critical", "alert", "emergency")
        if brand_new and row["first"] is not None and (view.onset is None or row["first"] < view.onset):
            view.onset = row["first"]
            best = max(best, 3.0)
    if view.catastrophic:
        first = min((r["first"] for r in view.templates
                     if r["template_id"] in {t for _, t, _ in view.catastrophic} and r["first"]), default=None)
        if first and (view.onset is None or first < view.onset):
            view.onset = first
        best = max(best, 6.0)
    usual = sum(view.baseline_total) / n if n else 0.0
    if view.silent_since is None and usual >= 2:          # went quiet without a silence signal
        run, minute = 0, since.replace(second=0, microsecond=0)
        while minute < until:
            run = run + 1 if view.window_total.get(minute, 0) == 0 else 0
            if run == 3:
                view.silent_since = minute - 2 * MINUTE
                break
            minute += MINUTE
    if view.silent_since and (view.onset is None or view.silent_since < view.onset):
        view.onset = view.silent_since
        best = max(best, 5.0)
    view.strength = min(10.0, max(0.0, best))
