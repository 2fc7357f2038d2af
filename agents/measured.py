"""What changed, measured, for the services of a scope: the change point when history is
short, each service's ServiceChange (agents/change.py) and what its traces say
(agents/trace_change.py), less what the whole fleet changed by. agents/scope.gather calls
these; the statistics themselves are pure and live in those two modules."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agents import change, durations, trace_change, trace_spectrum
from db import counts, events
from db.pool import Database

if TYPE_CHECKING:
    from agents.scope import Scope

MINUTE = timedelta(minutes=1)
SPECTRUM = 1.0          # weight of the trace spectrum (trace_change.spectrum) among a service's trace signals
DURATIONS = 1.0         # weight of the durations its own lines report (agents/durations.py)


def change_point(db: Database, scope: "Scope", names: list[str], start: datetime, earliest: datetime,
                  latest: datetime | None, until: datetime) -> datetime | None:
    """The minute where the template mix and the services' own times in traces changed most."""
    series: dict[datetime, dict[tuple[str, int], int]] = {}
    for minute, service, template_id, n in counts.service_template_minutes(db, names, start, until):
        series.setdefault(minute, {})[(service, template_id)] = n
    if not series:
        return None
    scope.trace_events = events.trace_events(db, start, until)
    timings = trace_change.step_times(scope.trace_events)
    end = min(until, max(series) + MINUTE)                       # minutes that have data
    return change.change_point(series, start, end, timings=timings, earliest=earliest, latest=latest)


def measure(db: Database, scope: "Scope") -> None:
    """Each service's measured change (agents/change.py) and, where lines carry trace ids,
    what its traces say (agents/trace_change.py)."""
    rows: dict[str, list] = {name: [] for name in scope.services}
    for service, template_id, level, base, win, text in counts.template_profile(
            db, sorted(scope.services), scope.baseline_since, scope.since, scope.until):
        rows[service].append((template_id, level, base, win, text))
    base_minutes = max(0.0, (scope.since - scope.baseline_since) / MINUTE)
    window_minutes = max(1.0, (scope.until - scope.since) / MINUTE)
    bursts = {name: change.dispersion(view.baseline_total) for name, view in scope.services.items()}
    known = sorted(b for n, b in bursts.items() if len(scope.services[n].baseline_total) >= 3)
    usual = known[len(known) // 2] if known else 1.0
    for name, view in scope.services.items():
        burst = max(bursts[name], usual)      # a short or quiet baseline borrows the fleet's burstiness
        view.change = change.service_change(name, rows[name], base_minutes, window_minutes, burst)
        if view.layer is not None and not view.anomalous:
            # the host layer (kernel, drivers, resolver) counts when it fails, not when it warns
            view.change = change.ServiceChange(name, baseline_lines=view.change.baseline_lines,
                                               window_lines=view.change.window_lines)
    if scope.baseline_since >= scope.since:
        return _fleet_offset(scope)
    scope.durations = durations.measure(db, scope)
    for name, found in scope.durations.items():
        scope.services[name].change.add("durations", DURATIONS * found.surprise)
    if scope.trace_events is not None:          # fetched once for the change point
        starts: dict[str, datetime] = {}
        for event in scope.trace_events:
            starts.setdefault(event[0], event[2])
        window = [e for e in scope.trace_events if starts[e[0]] >= scope.since]
        baseline = [e for e in scope.trace_events if starts[e[0]] < scope.since]
    else:
        window = events.trace_events(db, scope.since, scope.until)
        baseline = events.trace_events(db, scope.baseline_since, scope.since) if window else []
    if not window:
        return _fleet_offset(scope)
    novel = {(name, t.template_id): t.surprise for name, view in scope.services.items()
             for t in view.change.templates[:5] if t.kind in ("new", "rise") and t.surprise >= 1.0}
    scope.traces = trace_change.compare(baseline, window, changed_templates=novel)
    for name, (score, bad, n) in trace_spectrum.spectrum(baseline, window, novel).items():
        found = scope.traces.setdefault(name, trace_change.TraceChange(name))
        found.spectrum, found.abnormal = score, (bad, n)
    for name, found in scope.traces.items():
        view = scope.services.get(name)
        if view is None:
            continue
        view.change.add("slow", found.slow)
        view.change.add("gaps", found.gaps)
        view.change.add("paths", 0.8 * found.paths)
        view.change.add("after", 0.6 * found.after)
        view.change.add("before", 0.6 * found.before_new)
        view.change.add("spectrum", SPECTRUM * found.spectrum)
    _fleet_offset(scope)


def _fleet_offset(scope: "Scope") -> None:
    """What the fleet as a whole changed by: the lower quartile of the surprises of the
    services that logged in both periods (a shift every service shows, such as a sampling
    rate or a traffic mix, survives it; a cascade through most of a small fleet does not)."""
    both = sorted(v.change.surprise for v in scope.services.values()
                  if v.change is not None and v.change.baseline_lines and v.change.window_lines)
    if len(both) < 5:
        return
    fleet = both[len(both) // 4]
    for view in scope.services.values():
        if view.change is not None:
            view.change.fleet = fleet
