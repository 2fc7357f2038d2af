"""Clues beyond error counts, for faults whose root cause logs nothing new:
traces (who calls whom; where errors start), dependency-failure wording in the callers'
errors, latency (durations in the lines themselves getting longer), and which service saw
a catastrophic failure first hand (relays)."""
from __future__ import annotations

import re

from statistics import median

from db import events
from db.events import EventFilter
from db.pool import Database
from retrieval import traces

DEPENDENCY_ERROR = re.compile(r"timed? ?out|timeout|connection (?:refused|reset|closed|aborted)|unavailable|"
                              r"\b50[234]\b|upstream|deadline exceeded|no route to host|unreachable|broken pipe",
                              re.I)
DURATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) ?(ms|s|sec|secs|seconds|us|µs|m|min)\b")
UNIT = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0, "us": 1e-6, "µs": 1e-6, "m": 60.0,
         "min": 60.0}


def trace_calls(db: Database, since, until) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    spans = events.trace_spans(db, since, until)
    return dict(traces.call_edges(spans)), dict(traces.error_origins(spans))


def with_trace_upstream(upstream: dict[str, set[str]], calls: dict[tuple[str, str], int],
                        min_traces: int = 2, depth: int = 4) -> dict[str, set[str]]:
    """Add what traces show each service calling, transitively (bounded)."""
    callees: dict[str, set[str]] = {}
    for (caller, callee), n in calls.items():
        if n >= min_traces:
            callees.setdefault(caller, set()).add(callee)
    out = {name: set(deps) for name, deps in upstream.items()}
    for name in set(out) | set(callees):
        seen, frontier = set(out.get(name, set())), {name}
        for _ in range(depth):
            frontier = {c for f in frontier for c in callees.get(f, set())} - seen - {name}
            seen |= frontier
        out[name] = seen
    return out


def blames_a_dependency(messages: list[str]) -> bool:
    return any(DEPENDENCY_ERROR.search(m) for m in messages)


def durations(messages: list[str]) -> list[float]:
    out = []
    for message in messages:
        for value, unit in DURATION.findall(message):
            out.append(float(value) * UNIT[unit])
    return out


def slowdown(db: Database, service: str, template_ids: list[int], since, until, baseline_since,
             samples: int = 20) -> tuple[float, object] | None:
    """(ratio of median durations window/baseline, first slow minute) when the service's own
    lines report durations that got at least 3x longer (and over 200 ms)."""
    if not template_ids or baseline_since >= since:
        return None
    window, before = [], []
    first_slow = None
    for template_id in template_ids[:3]:
        recent = events.examples(db, [template_id], samples, EventFilter(service=[service], since=since,
                                                                          until=until)).get(template_id, [])
        older = events.examples(db, [template_id], samples, EventFilter(service=[service], since=baseline_since,
                                                                         until=since)).get(template_id, [])
        before += durations([e["message"] for e in older])
        window += [(e["ts"], d) for e in recent for d in durations([e["message"]])]
    if len(before) < 3 or len(window) < 3:
        return None
    base = median(before)
    now = median(d for _, d in window)
    if base <= 0 or now < 0.2 or now < 3 * base:
        return None
    slow = sorted(ts for ts, d in window if d >= 3 * base)
    if slow:
        first_slow = slow[0]
    return now / base, first_slow


def relays(scope) -> None:
    """Where a failure was seen first hand. A service that reports a catastrophic failure
    (disk full, say) which a service it depends on reports too relays that one's error (an
    API quoting its database's "No space left on device"): the failure is not its host's, so
    it leaves that host's and that service's catastrophic evidence. The host layer (kernel,
    systemd) speaks for its own host and never relays; two services that each depend on the
    other say nothing about who saw it first."""
    seen = {name: {p for p, _, _ in view.catastrophic} for name, view in scope.services.items()}
    for name, view in scope.services.items():
        if view.layer is not None or not view.catastrophic:
            continue
        kept = []
        for entry in view.catastrophic:
            primitive, template_id, host = entry
            origins = [d for d in scope.upstream.get(name, set()) if d != name and d in scope.services
                       and primitive in seen[d] and name not in scope.upstream.get(d, set())]
            if origins and not any(host in scope.services[d].hosts for d in origins):
                scope.host_catastrophic[host] = [e for e in scope.host_catastrophic.get(host, [])
                                                 if e[1] != template_id]
                view.relayed.append((primitive, template_id, sorted(origins)[0]))
            else:
                kept.append(entry)
        view.catastrophic = kept
