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
from typing import TYPE_CHECKING

from db import counts
from db import incidents as incident_sql
from db import graph as cypher
from db.graph import Graph, GraphUnavailable
from db.pool import Database
from agents import clues, measured, references
from agents.references import SEVERE
from detectors.catalogue import match

if TYPE_CHECKING:
    from agents import change, trace_change
    from agents.durations import DurationChange

MINUTE = timedelta(minutes=1)
# the host layer, by inventory `type`: what every other service on the same host runs on.
# Lower numbers sit below higher ones; services of any other type sit above all of them.
HOST_LAYER = {"kernel": 0, "driver": 1, "resolver": 2}
OUTSIDE = ("manual", "alert")               # incident triggers that are not a detector
FOLLOW = timedelta(minutes=15)
FOLLOW_OPENED = timedelta(minutes=2)
SHORT_HISTORY = timedelta(minutes=10)       # less history before the window: find where things changed
SPLIT_BEFORE = timedelta(minutes=5)


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
    relayed: list[tuple[str, int, str]] = field(default_factory=list)   # (primitive, template id, where it was seen first)
    silent_since: datetime | None = None
    type: str = "service"
    named_by: set[str] = field(default_factory=set)                # anomalous services whose errors name it
    suspected_by: set[str] = field(default_factory=set)            # ... whose traces' first errors follow a call to it
    signal_at: datetime | None = None                             # first detector signal about it
    anomalous_hosts: set[str] = field(default_factory=set)         # where its anomaly shows
    change: "change.ServiceChange | None" = None                  # what changed, measured (agents/change.py)

    @property
    def layer(self) -> int | None:
        return HOST_LAYER.get(self.type)

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
    calls: dict[tuple[str, str], int] = field(default_factory=dict)          # from trace ids
    error_origins: dict[str, int] = field(default_factory=dict)              # traces whose first error is here
    slow: dict[str, float] = field(default_factory=dict)                     # service -> duration ratio
    references: dict[str, list[tuple[str, int]]] = field(default_factory=dict)   # named -> [(by, template id)]
    traces: dict[str, "trace_change.TraceChange"] = field(default_factory=dict)  # what traces say changed
    durations: dict[str, "DurationChange"] = field(default_factory=dict)  # logged durations that grew
    split_at: datetime | None = None          # short history: where the window was split into before/after
    trace_events: list | None = None          # short history: every traced line from the history's start
    claimed: dict[str, tuple[int, set[str]]] = field(default_factory=dict)   # service -> (incident blaming it, its services)
    signalled: dict[str, set[str]] = field(default_factory=dict)   # service -> hosts this incident's signals are on

    def anomalous(self) -> list[ServiceView]:
        return sorted((v for v in self.services.values() if v.anomalous), key=lambda v: (v.onset, v.name))


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.rstrip("Z"))


def gather(db: Database, graph: Graph | None, incident: dict, signals: list[dict],
           baseline_minutes: int = 240, matcher=None, now: datetime | None = None) -> Scope:
    """`matcher`: finds the inventory services a log line names (retrieval.enrich.ReferenceMatcher).
    `now`: the investigation's clock. An incident opened from outside (a person, an alert) about
    the present has no detector widening its window, so it is read up to now (at most FOLLOW
    past its end); one opened about a past window (`devmesh investigate --at`) is read as asked."""
    since, until = _parse(incident["window_start"]), _parse(incident["window_end"])
    opened = _parse(incident["opened_at"]) if incident.get("opened_at") else until
    if (now is not None and incident.get("trigger") in OUTSIDE and incident.get("status") != "resolved"
            and until >= opened - FOLLOW_OPENED):     # opened about "now", not about a window in the past
        until = max(until, min(now, until + FOLLOW))
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
    if not names:                                          # fleet-wide: whoever logged in the window
        names = sorted({row["service"] for row in counts.templates_in(db, None, None, since, until, since, 5000)})
    scope.calls, scope.error_origins = clues.trace_calls(db, since, until)
    linked = set(names)
    for _ in range(4):                                     # what traces show the scope calling, transitively
        linked |= {s for edge, n in scope.calls.items() if n >= 2 and set(edge) & linked for s in edge}
    names = sorted(linked)
    history = counts.history_start(db, names) if names else None
    if history is not None and since - history < SHORT_HISTORY and until - history >= 3 * MINUTE:
        # too little history before the window to compare with: the window's own minutes
        # are split where the services' template mix changed most (agents/change.change_point)
        # an incident opened from outside was opened soon after what it is about: the split is
        # looked for in the last SPLIT_BEFORE minutes before its (original) end, or later
        earliest, latest = history, None
        if incident.get("trigger") in OUTSIDE:
            opened_for = _parse(incident["window_end"])        # what it was opened about came before this
            earliest = max(history, opened_for - SPLIT_BEFORE)
            latest = opened_for.replace(second=0, microsecond=0)
        split = measured.change_point(db, scope, names, history, earliest, latest, until)
        if split is not None:
            scope.split_at = split
            since = scope.since = split
    scope.baseline_since = max(history or since, since - timedelta(minutes=baseline_minutes))
    scope.history_minutes = int((since - history) / MINUTE) if history and history < since else 0
    info: dict[str, dict] = {}
    if graph is not None and scope.graph_ok:
        try:
            info = {row["name"]: row for row in cypher.services(graph)}
            for name in names:
                scope.upstream[name] = {s for s, _ in cypher.upstream(graph, name, 4)}
        except GraphUnavailable:
            scope.graph_ok = False
    for name in names:
        scope.services[name] = ServiceView(name, type=info.get(name, {}).get("type") or "service",
                                           hosts=set(info.get(name, {}).get("hosts") or []))
    scope.upstream = clues.with_trace_upstream(scope.upstream, scope.calls)
    _host_layer(scope, info)
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
    clues.relays(scope)
    scope.claimed = incident_sql.root_causes_elsewhere(db, incident["id"], since, until)
    for signal in signals:
        scope.signalled.setdefault(signal["service"], set()).update([signal["host"]] if signal.get("host") else [])
    for signal in signals:
        view = scope.services.get(signal["service"])
        if view is not None:
            at = _parse(signal["at"])
            view.signal_at = min(view.signal_at or at, at)
        if signal["detector"] == "silence" and signal["service"] in scope.services:
            quiet = timedelta(minutes=signal.get("detail", {}).get("quiet_minutes", 0))
            scope.services[signal["service"]].silent_since = _parse(signal["at"]) - quiet + MINUTE
    for view in scope.services.values():
        _assess(view, since, until)
    if matcher is not None:
        references.errors_name(db, scope, matcher)
    _trace_suspects(db, scope)
    _slowdowns(db, scope)
    measured.measure(db, scope)
    if matcher is not None:
        references.changes_name(db, scope, matcher)
    return scope


def _severe_examples(db: Database, scope: Scope, view: "ServiceView", limit: int = 3) -> list[str]:
    severe = sorted((t for t in view.templates if t["level"] in SEVERE), key=lambda t: -t["count"])[:limit]
    samples = events_examples(db, [t["template_id"] for t in severe], 1, view.name, scope.since, scope.until)
    return [line["message"] for lines in samples.values() for line in lines]


def _trace_suspects(db: Database, scope: Scope) -> None:
    """Where a trace's first error is a dependency failure (a timeout, a refused connection),
    the callee it waited on is a suspect even if its own logs look calm."""
    for origin, n in scope.error_origins.items():
        view = scope.services.get(origin)
        if view is None or n < 2 or not view.anomalous:
            continue
        if not clues.blames_a_dependency(_severe_examples(db, scope, view)):
            continue
        for (caller, callee), traces_seen in scope.calls.items():
            target = scope.services.get(callee)
            if caller == origin and traces_seen >= 2 and target is not None and not target.anomalous:
                target.onset, target.strength = view.onset, max(target.strength, 2.0)
                target.anomalous_hosts |= target.hosts
                target.suspected_by.add(origin)


def _slowdowns(db: Database, scope: Scope) -> None:
    """Services whose own lines report much longer durations than before: slow, not failing."""
    for view in scope.services.values():
        timed = [t["template_id"] for t in sorted(view.templates, key=lambda t: -t["count"])
                 if "<DURATION>" in t["template"]]
        found = clues.slowdown(db, view.name, timed, scope.since, scope.until, scope.baseline_since)
        if found is None:
            continue
        ratio, first = found
        scope.slow[view.name] = round(ratio, 1)
        onset = _parse(first).replace(second=0, microsecond=0) if first else scope.since
        if view.onset is None or onset < view.onset:
            view.onset = onset
        view.strength = max(view.strength, min(10.0, 2.0 + ratio / 2))
        view.anomalous_hosts |= view.hosts


def _host_layer(scope: Scope, info: dict[str, dict]) -> None:
    """A service implicitly depends on the host-layer services of the hosts it runs on
    (and of the hosts of what it depends on): the kernel, drivers, the resolver."""
    layer_of = {n: HOST_LAYER.get((info.get(n) or {}).get("type", "")) for n in info}
    on_host: dict[str, list[str]] = {}
    for name, row in info.items():
        for host in row.get("hosts") or []:
            on_host.setdefault(host, []).append(name)

    def below(name: str) -> set[str]:
        mine = layer_of.get(name)
        out = set()
        for host in (info.get(name) or {}).get("hosts") or []:
            for other in on_host.get(host, []):
                theirs = layer_of.get(other)
                if other != name and theirs is not None and (mine is None or theirs < mine):
                    out.add(other)
        return out

    for name in list(scope.upstream):
        deps = set(scope.upstream[name])
        for dep in {name, *deps}:
            deps |= below(dep)
        scope.upstream[name] = deps - {name}


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
        severe = row["level"] in SEVERE
        brand_new = row["baseline"] == 0 and (severe or (row["level"] == "warning" and row["count"] >= 3))
        if brand_new and row["first"] is not None and (view.onset is None or row["first"] < view.onset):
            view.onset = row["first"]
            best = max(best, 3.0 if severe else 2.0)
    if view.signal_at and (view.onset is None or view.signal_at < view.onset):
        view.onset = view.signal_at
        best = max(best, 3.0)
    if view.catastrophic:
        first = min((r["first"] for r in view.templates
                     if r["template_id"] in {t for _, t, _ in view.catastrophic} and r["first"]), default=None)
        if first and (view.onset is None or first < view.onset):
            view.onset = first
        best = max(best, 6.0)
    usual = sum(view.baseline_total) / n if n else 0.0
    if view.silent_since is None and usual >= 0.5:        # went quiet without a silence signal
        habit = _longest_gap(view.baseline_total)
        needed = max(3, 2 * habit + 1)
        run, minute = 0, since.replace(second=0, microsecond=0)
        while minute < until:
            run = run + 1 if view.window_total.get(minute, 0) == 0 else 0
            if run == needed:
                view.silent_since = minute - (needed - 1) * MINUTE
                break
            minute += MINUTE
    if view.silent_since and (view.onset is None or view.silent_since < view.onset):
        view.onset = view.silent_since
        best = max(best, 5.0)
    view.strength = min(10.0, max(0.0, best))
    marked = {t for _, t, _ in view.catastrophic}
    for row in view.templates:
        surging = row["baseline"] == 0 or row["count"] >= 5 * max(1, row["baseline"])
        if (row["level"] in SEVERE and surging) or row["template_id"] in marked:
            view.anomalous_hosts.add(row["host"])
    if view.silent_since and not view.anomalous_hosts:
        view.anomalous_hosts |= view.hosts
    if view.layer is not None and not view.anomalous_hosts:
        view.onset, view.strength = None, 0.0       # the host layer only counts when it fails, not when it warns


def _longest_gap(series: list[int]) -> int:
    longest = run = 0
    for value in series:
        run = run + 1 if value == 0 else 0
        longest = max(longest, run)
    return longest


def events_examples(db: Database, template_ids: list[int], per: int, service: str, since, until) -> dict:
    from db import events

    return events.examples(db, template_ids, per, events.EventFilter(service=[service], since=since, until=until))
