"""What traces say changed, per service, from log lines that carry a trace id.

Inside one trace a service's lines form its span (first to last line); the caller of a
service is the service whose span most tightly contains it. Walking the trace's lines in
time order, the time between two consecutive lines belongs to the deeper service of the
two (entering a callee, working inside it, and returning from it are the callee's time;
two lines of one service are its own). So each service gets an own time per trace that
excludes what its callees took: a callee slowed by CPU starvation or by a network delay
shows up in its own time, not in its callers'.

Per service, the baseline's traces are compared with the window's:
- slow: the window's own times against the baseline's (one-sided Mann-Whitney), when the
  median also grew;
- paths: the share of window traces in which the service's template sequence was never
  seen in the baseline, against the baseline's own rate of novel sequences (Good-Turing:
  traces whose sequence occurs once), so a service whose paths always vary is not flagged;
- after: where a caller's sequence departs from every baseline sequence right after a
  callee's line, that callee is where the change came from (its caller reacted to what it
  returned): the callee gets the caller's path surprise, in proportion.
- spectrum (set by agents/measured.py from agents/trace_spectrum.py): which services the
  window's abnormal traces pass through more often than its traces do in general.
Surprises are log10 units, as in agents/change.py.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from agents.change import CAP

Event = tuple[str, str, datetime, int, str]      # trace id, service, ts, template id, level
MAX_PATH = 24


@dataclass
class TraceChange:
    service: str
    slow: float = 0.0
    paths: float = 0.0
    after: float = 0.0
    median_ms: tuple[float, float] | None = None          # baseline, window
    novel: tuple[int, int] | None = None                   # window traces with a new sequence, of n
    after_of: dict[str, int] = field(default_factory=dict)   # caller -> traces diverging after this callee
    gaps: float = 0.0
    before_new: float = 0.0                                 # changed lines of others come right after its own
    before_new_of: dict[str, int] = field(default_factory=dict)
    slowed_gaps: list[tuple[str, str, float, float]] = field(default_factory=list)   # (from, to, base ms, now ms)
    spectrum: float = 0.0
    abnormal: tuple[int, int] | None = None                 # its window traces that were abnormal, of n
    window_traces: int = 0
    baseline_traces: int = 0

    def as_dict(self) -> dict:
        return {"service": self.service, "slow": round(self.slow, 2), "paths": round(self.paths, 2),
                "gaps": round(self.gaps, 2), "slowed_gaps": self.slowed_gaps[:5],
                "before_new": round(self.before_new, 2), "before_new_of": self.before_new_of,
                "after": round(self.after, 2), "median_ms": self.median_ms, "novel": self.novel,
                "after_of": self.after_of, "spectrum": round(self.spectrum, 2), "abnormal": self.abnormal,
                "traces": [self.baseline_traces, self.window_traces]}


def binomial_upper(k: int, n: int, p: float) -> float:
    """-log10 P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0 or n <= 0 or k <= n * p:
        return 0.0
    if p <= 0:
        return CAP
    if p >= 1:
        return 0.0
    logs = []
    for j in range(k, n + 1):
        logs.append(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                    + j * math.log(p) + (n - j) * math.log1p(-p))
        if len(logs) > 1 and logs[-1] < logs[0] - 30:
            break
    top = max(logs)
    total = top + math.log(sum(math.exp(v - top) for v in logs))
    return min(CAP, max(0.0, -total / math.log(10)))


def slower(before: list[float], now: list[float]) -> float:
    """-log10 of the one-sided Mann-Whitney p-value that `now` runs longer than `before`
    (normal approximation, ties count half): uses every sample, and one outlier in a short
    baseline cannot hide a slowdown the way a percentile threshold can."""
    n1, n2 = len(now), len(before)
    if n1 < 2 or n2 < 2:
        return 0.0
    ordered = sorted(before)
    import bisect
    u = 0.0
    for x in now:
        lo, hi = bisect.bisect_left(ordered, x), bisect.bisect_right(ordered, x)
        u += lo + 0.5 * (hi - lo)
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (u - mean - 0.5) / sd
    if z <= 0:
        return 0.0
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return min(CAP, -math.log10(max(p, 1e-300)))


def _parents(spans: dict[str, tuple[datetime, datetime]]) -> dict[str, str]:
    out = {}
    for service, (first, last) in spans.items():
        best = None
        for other, (o_first, o_last) in spans.items():
            if other == service or o_first > first or o_last < last or (o_first, o_last) == (first, last):
                continue
            width = o_last - o_first
            if best is None or width < best[0]:
                best = (width, other)
        if best:
            out[service] = best[1]
    return out


def _depths(services, parents: dict[str, str]) -> dict[str, int]:
    out = {}
    for service in services:
        depth, at, seen = 0, service, {service}
        while at in parents and parents[at] not in seen:
            at = parents[at]
            seen.add(at)
            depth += 1
        out[service] = depth
    return out


def per_trace(events: list[Event]) -> tuple[dict[str, float], dict[str, tuple[int, ...]], list[tuple[str, str]]]:
    """One trace's lines (any order) -> own time per service (ms), template sequence per
    service, and (line's service, service of the line just before it) for each line."""
    events = sorted(events, key=lambda e: e[2])
    spans: dict[str, tuple[datetime, datetime]] = {}
    for _t, service, ts, _tid, _lv in events:
        first, last = spans.get(service, (ts, ts))
        spans[service] = (min(first, ts), max(last, ts))
    depth = _depths(spans, _parents(spans))
    own: dict[str, float] = {s: 0.0 for s in spans}
    paths: dict[str, list[int]] = defaultdict(list)
    before: list[tuple[str, str]] = []
    for i, (_t, service, ts, template_id, _lv) in enumerate(events):
        if len(paths[service]) < MAX_PATH:
            paths[service].append(template_id)
        if i == 0:
            continue
        prev = events[i - 1]
        gap = (ts - prev[2]).total_seconds() * 1e3
        owner = prev[1] if depth[prev[1]] > depth[service] else service
        own[owner] += gap
        before.append((service, prev[1]))
    return own, {s: tuple(p) for s, p in paths.items()}, before


def _group(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        out[event[0]].append(event)
    return out


def _divergence(path: tuple[int, ...], known: set[tuple[int, ...]]) -> int | None:
    """Index of the first template of `path` that no known sequence has after the same
    prefix; None when the path only stops early (a prefix of a known one: nothing new was said)."""
    best = 0
    for other in known:
        n = 0
        for a, b in zip(path, other):
            if a != b:
                break
            n += 1
        best = max(best, n)
    return best if best < len(path) else None


def step_times(events: list[Event]) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
    """(service of a line, service of the next line) -> (trace start, gap ms) samples."""
    out: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    for trace in _group(events).values():
        if len({e[1] for e in trace}) < 2:
            continue
        ordered = sorted(trace, key=lambda e: e[2])
        for prev, nxt in zip(ordered, ordered[1:]):
            out[(prev[1], nxt[1])].append((ordered[0][2], (nxt[2] - prev[2]).total_seconds() * 1e3))
    return out


def transitions(events: list[Event]) -> dict[tuple[str, str], list[float]]:
    """(service of a line, service of the next line in the same trace) -> the gaps (ms)."""
    return {pair: [ms for _t, ms in samples] for pair, samples in step_times(events).items()}


def slowed_transitions(baseline: list[Event], window: list[Event]) -> dict[str, tuple[float, list]]:
    """Which step from one line to the next got slower, and whose it is.

    A gap between two lines of different services is shared by both: a slow callee slows
    the step from its caller's line to its own and back; a starved service slows the steps
    after its own lines. So a slowed step says little alone, but the service common to the
    slowed steps is the one that changed: each service scores the surprise of its slowed
    steps times the share of all its steps (by window count) that slowed. A caller whose
    only slow step is the one into the slow callee keeps a small share.
    -> service -> (score, [(from, to, baseline median, window median)])."""
    before, now = transitions(baseline), transitions(window)
    # a step seen too rarely before (trace sampling, a short history) is compared with every
    # step of its kind (between two services, or within one), at half the weight
    pooled = {kind: sorted(g for pair, gaps in before.items() if (pair[0] == pair[1]) == kind for g in gaps)
              for kind in (True, False)}
    total: Counter = Counter()
    slowed: Counter = Counter()
    surprise: dict[str, float] = defaultdict(float)
    found: dict[str, list] = defaultdict(list)
    for pair, gaps in now.items():
        base, weight = before.get(pair, []), 1.0
        own = base
        if len(base) < 4:
            base, weight = pooled[pair[0] == pair[1]], 0.5
        if len(base) < 20 and weight < 1 or len(gaps) < 2:
            continue
        # a step never seen before has no pace of its own to be slower than (a new step is a
        # new path: `paths`); one seen a few times must also be slower than each of those
        if weight < 1 and (not own or median(gaps) < 1.5 * max(own)):
            continue
        for service in set(pair):
            total[service] += len(gaps)
        base_med, win_med = median(base), median(gaps)
        if win_med < 1.5 * base_med or win_med - base_med < 2.0:
            continue
        s = slower(base, gaps) * weight
        if s < 1.3:
            continue
        for service in set(pair):
            slowed[service] += len(gaps)
            surprise[service] += s
            found[service].append((pair[0], pair[1], round(base_med, 1), round(win_med, 1)))
    return {service: (min(CAP, surprise[service]) * slowed[service] / total[service], found[service])
            for service in slowed}


def follows(window: list[Event], novel: dict[tuple[str, int], float]) -> dict[str, tuple[float, dict[str, int]]]:
    """Whose lines the changed lines come right after. `novel`: (service, template id) ->
    its surprise, for templates that appeared or rose in the window. A caller that takes
    another path because of what a callee returned logs its new lines right after the
    callee's: when most of a service's changed lines follow one other service's lines, that
    other service gets the change's surprise, in proportion.
    -> service -> (score, {follower: lines})."""
    after: dict[str, Counter] = defaultdict(Counter)
    seen: Counter = Counter()
    for trace in _group(window).values():
        ordered = sorted(trace, key=lambda e: e[2])
        for prev, event in zip(ordered, ordered[1:]):
            if (event[1], event[3]) not in novel:
                continue
            seen[event[1]] += 1
            if prev[1] != event[1]:
                after[prev[1]][event[1]] += 1
    strength: dict[str, float] = defaultdict(float)
    for (service, _t), surprise in novel.items():
        strength[service] = max(strength[service], surprise)
    out = {}
    for callee, followers in after.items():
        score = max((n / seen[f]) * strength[f] for f, n in followers.items() if seen[f] >= 3) \
            if any(seen[f] >= 3 for f in followers) else 0.0
        if score > 0:
            out[callee] = (score, dict(followers))
    return out


def compare(baseline: list[Event], window: list[Event], min_baseline: int = 5,
            changed_templates: dict[tuple[str, int], float] | None = None) -> dict[str, TraceChange]:
    """Per service: how its traces in the window differ from those in the baseline."""
    base_own: dict[str, list[float]] = defaultdict(list)
    base_paths: dict[str, Counter] = defaultdict(Counter)
    for events in _group(baseline).values():
        if len({e[1] for e in events}) < 2:
            continue
        own, paths, _ = per_trace(events)
        for service, ms in own.items():
            base_own[service].append(ms)
            base_paths[service][paths[service]] += 1
    win_own: dict[str, list[float]] = defaultdict(list)
    novel: Counter = Counter()
    seen_in_window: Counter = Counter()
    after: dict[str, Counter] = defaultdict(Counter)      # callee -> caller -> traces
    for events in _group(window).values():
        if len({e[1] for e in events}) < 2:
            continue
        own, paths, _ = per_trace(events)
        ordered = sorted(events, key=lambda e: e[2])
        for service, ms in own.items():
            win_own[service].append(ms)
            seen_in_window[service] += 1
            known = base_paths.get(service)
            if not known or sum(known.values()) < min_baseline or paths[service] in known:
                continue
            novel[service] += 1
            cut = _divergence(paths[service], set(known))
            mine = [i for i, e in enumerate(ordered) if e[1] == service]
            if cut is not None and cut < len(mine) and mine[cut] > 0:
                previous = ordered[mine[cut] - 1][1]
                if previous != service:
                    after[previous][service] += 1
    out: dict[str, TraceChange] = {}
    for service in set(win_own) | set(base_own):
        change = TraceChange(service, window_traces=len(win_own.get(service, [])),
                             baseline_traces=len(base_own.get(service, [])))
        before, now = base_own.get(service, []), win_own.get(service, [])
        if len(before) >= min_baseline and len(now) >= 3:
            base_med, win_med = median(before), median(now)
            change.median_ms = (round(base_med, 1), round(win_med, 1))
            if win_med >= 1.3 * base_med and win_med - base_med >= 5.0:
                change.slow = slower(before, now)
        known = base_paths.get(service)
        if known and sum(known.values()) >= min_baseline and seen_in_window[service]:
            total = sum(known.values())
            once = sum(1 for c in known.values() if c == 1)
            p_new = (once + 1) / (total + 2)
            change.novel = (novel[service], seen_in_window[service])
            change.paths = binomial_upper(novel[service], seen_in_window[service], p_new)
        out[service] = change
    for service, (score, steps) in slowed_transitions(baseline, window).items():
        change = out.setdefault(service, TraceChange(service))
        change.gaps, change.slowed_gaps = score, steps
    for callee, (score, followers) in follows(window, changed_templates or {}).items():
        change = out.setdefault(callee, TraceChange(callee))
        change.before_new, change.before_new_of = score, followers
    for callee, callers in after.items():
        if callee not in out:
            continue
        share = 0.0
        for caller, n in callers.items():
            if novel[caller]:
                share = max(share, out[caller].paths * n / novel[caller])
        out[callee].after = share
        out[callee].after_of = dict(callers)
    return out
