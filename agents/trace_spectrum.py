"""The spectrum of abnormal traces: which services the window's abnormal traces pass through
more often than its traces do in general (spectrum-based fault localization, as TraceRCA and
MicroRank do over spans; here over log lines that carry trace ids).

A trace is abnormal when it holds a line of a template that changed, an error line of a
template its service did not err with before, or it ran longer than every baseline trace
that began the same way. A service on every trace (a gateway, an auth hub) gains nothing:
its share of abnormal traces is the fleet's. One the abnormal traces share, and normal
traces mostly avoid, is where they went wrong. Surprises are log10 units, as in
agents/change.py; events are agents/trace_change.Event tuples.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from statistics import median

from agents.trace_change import Event, _group, binomial_upper

ERROR_LEVELS = frozenset({"error", "critical", "alert", "emergency"})
WARNING_LEVELS = ERROR_LEVELS | {"warning"}


def abnormal_traces(baseline: list[Event], window: list[Event],
                    changed: dict[tuple[str, int], float]) -> tuple[dict[str, set[str]], set[str]]:
    """The window's traces (id -> the services on it) and which are abnormal: a line of a
    template new in the window or a warning-or-worse template that rose (an info line that
    rose is traffic), an error line its service never erred with in the baseline, or a trace
    longer than every baseline trace that began with the same line (when at least 3 did) and
    twice their median. In a trace abnormal by its lines, the services on it are those heard
    up to its first abnormal line: what is called after things went wrong (a fallback, an
    error handler) did not make them go wrong."""
    erred = {(e[1], e[3]) for e in baseline if e[4] in ERROR_LEVELS}
    known = {(e[1], e[3]) for e in baseline}
    lengths: dict[tuple[str, int], list[float]] = defaultdict(list)
    for trace in _group(baseline).values():
        first, last = min(trace, key=lambda e: e[2]), max(e[2] for e in trace)
        lengths[(first[1], first[3])].append((last - first[2]).total_seconds() * 1e3)

    def wrong(e: Event) -> bool:
        key = (e[1], e[3])
        if e[4] in ERROR_LEVELS and key not in erred:
            return True
        return key in changed and (key not in known or e[4] in WARNING_LEVELS)

    services: dict[str, set[str]] = {}
    bad: set[str] = set()
    for trace_id, trace in _group(window).items():
        ordered = sorted(trace, key=lambda e: e[2])
        at = next((i for i, e in enumerate(ordered) if wrong(e)), None)
        if at is not None:
            services[trace_id] = {e[1] for e in ordered[:at + 1]}
            bad.add(trace_id)
            continue
        services[trace_id] = {e[1] for e in ordered}
        before = lengths.get((ordered[0][1], ordered[0][3]), [])
        took = (ordered[-1][2] - ordered[0][2]).total_seconds() * 1e3
        if len(before) >= 3 and took > max(before) and took > 2 * median(before):
            bad.add(trace_id)
    return services, bad


def spectrum(baseline: list[Event], window: list[Event],
             changed: dict[tuple[str, int], float]) -> dict[str, tuple[float, int, int]]:
    """Per service: the surprise (log10) that so many of the window traces through it were
    abnormal, given the share of all window traces that were (binomial upper tail), with
    (abnormal traces through it, traces through it).

    Explaining away: services are taken best first; each later one is scored only on the
    traces that do not pass through one taken before it. A callee that every failing trace
    reached on its way to the root, or the caller in front of it, then keeps only the
    abnormal traces the root does not explain (none, for one fault); a second fault keeps
    its own. Services tied with the best on the same traces stay tied."""
    services, bad = abnormal_traces(baseline, window, changed)
    if len(services) < 5 or not bad:
        return {}
    share = len(bad) / len(services)

    def score(traces: dict[str, set[str]]) -> dict[str, tuple[float, int, int]]:
        through: Counter = Counter()
        through_bad: Counter = Counter()
        for trace_id, names in traces.items():
            for name in names:
                through[name] += 1
                if trace_id in bad:
                    through_bad[name] += 1
        return {name: (binomial_upper(through_bad[name], n, share), through_bad[name], n)
                for name, n in through.items() if through_bad[name]}

    first = score(services)
    out: dict[str, tuple[float, int, int]] = {}
    left = dict(services)
    while True:
        current = score(left) if out else first
        current = {n: v for n, v in current.items() if n not in out and v[0] >= 1.0}
        if not current:
            break
        best = max(v[0] for v in current.values())
        taken = [n for n, v in current.items() if v[0] >= best - 1e-9]
        for name in taken:
            out[name] = current[name]
        left = {t: names for t, names in left.items() if not names & set(taken)}
    return out
