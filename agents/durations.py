"""Durations the lines themselves report, before and in the window, as a change statistic.

Many lines carry how long something took: an access log's request time, a framework's
"Completed 200 OK in 12 ms", a job's "Refreshed 2028 entries in 46 ms", a JSON field such as
`"duration_ms": 8.1`. A service starved of CPU, or behind a network delay, reports longer
durations long before it logs an error, and often never does. So for each service, the
templates of its window that hold a duration (the canonical form's `<DURATION>`, or a
numeric field whose key says it is a duration) are sampled in both periods, each duration's
position in the line compared on its own (one-sided Mann-Whitney: `trace_change.slower`),
and the best surprise, corrected for the number of positions tested, is the service's
`durations` part (log10 units, as in agents/change.py).

A duration only counts when it grew by a real factor (median at least GROWTH times its
baseline and more than a clock tick): with hundreds of lines a drift of a few percent is
"significant" and means nothing. A caller's durations include its callees', so the callers
of a slowed service grow too; the graph terms of agents/root_cause.py (quiet, explains) say
which of them is beneath the others, as they do for every other kind of change.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from statistics import median

from agents.change import CAP
from agents.clues import DURATION, UNIT
from agents.trace_change import slower
from db.events import recent_messages
from db.pool import Database

SAMPLES = 600          # newest lines per template and period
TEMPLATES = 4          # timed templates per service, the busiest in the window
GROWTH = 1.3           # the window's median must be at least this many times the baseline's
TICK_S = 0.0005        # and longer by more than half a millisecond (integer-ms clocks)
MIN_SIDE = 4           # values a side, at least

# `"duration_ms": 8.1`, `elapsed=0.52`, `took: 1.2`: a number whose key names a duration
_KEYED = re.compile(r"""["']?(?P<key>[A-Za-z_]*(?:duration|elapsed|latency|took|request_time|response_time)"""
                    r"""[A-Za-z_]*)["']?\s*[:=]\s*(?P<value>\d+(?:\.\d+)?)(?![\d.])""", re.I)
_KEYED_TEMPLATE = re.compile(r"(?:duration|elapsed|latency|took|request_time|response_time)[A-Za-z_]*[\"']?\s*[:=]\s*"
                             r"<(?:NUM|ID)>", re.I)


@dataclass
class DurationChange:
    service: str
    surprise: float
    template_id: int
    median_s: tuple[float, float]        # baseline, window
    samples: tuple[int, int]

    def as_dict(self) -> dict:
        return {"service": self.service, "surprise": round(self.surprise, 2), "template_id": self.template_id,
                "median_ms": [round(v * 1e3, 1) for v in self.median_s], "samples": list(self.samples)}


def _key_unit(key: str) -> float:
    k = key.lower()
    if k.endswith(("_ms", "ms")):
        return 1e-3
    if k.endswith(("_us", "us", "_micros")):
        return 1e-6
    if k.endswith(("_ns", "ns", "_nanos")):
        return 1e-9
    return 1.0


def values(message: str) -> list[float]:
    """The durations a line reports, in seconds, in their order in the line."""
    found: list[tuple[int, float]] = [(m.start(), float(m.group(1)) * UNIT[m.group(2)])
                                      for m in DURATION.finditer(message)]
    found += [(m.start("value"), float(m.group("value")) * _key_unit(m.group("key")))
              for m in _KEYED.finditer(message)]
    return [v for _, v in sorted(found)]


def timed(template: str) -> bool:
    return "<DURATION>" in template or bool(_KEYED_TEMPLATE.search(template))


def _positions(messages: list[str]) -> list[list[float]]:
    """Per position in the line, the values of the lines that report the usual number of them."""
    parsed = [values(m) for m in messages]
    lengths = [len(p) for p in parsed if p]
    if not lengths:
        return []
    usual = max(set(lengths), key=lengths.count)
    return [list(column) for column in zip(*(p for p in parsed if len(p) == usual))]


def compare(before: list[str], now: list[str]) -> tuple[float, float, float, int, int, int]:
    """(surprise, baseline median s, window median s, n before, n now, positions tested) of
    the position whose durations grew most surprisingly; surprise 0 when none grew."""
    a, b = _positions(before), _positions(now)
    best = (0.0, 0.0, 0.0, 0, 0)
    tested = 0
    for old, new in zip(a, b):
        if len(old) < MIN_SIDE or len(new) < MIN_SIDE:
            continue
        tested += 1
        m0, m1 = median(old), median(new)
        if m1 < GROWTH * m0 or m1 - m0 <= TICK_S:
            continue
        s = slower(old, new)
        if s > best[0]:
            best = (s, m0, m1, len(old), len(new))
    return (*best, tested)


def measure(db: Database, scope) -> dict[str, DurationChange]:
    """Each service's most surprising growth of a duration its own lines report."""
    out: dict[str, DurationChange] = {}
    if scope.baseline_since >= scope.since:
        return out
    for name, view in scope.services.items():
        rows = sorted((t for t in view.templates if timed(t.get("template") or "") and t["count"] >= MIN_SIDE),
                      key=lambda t: -t["count"])
        ids = list(dict.fromkeys(t["template_id"] for t in rows))[:TEMPLATES]
        if not ids:
            continue
        now = recent_messages(db, name, ids, SAMPLES, scope.since, scope.until)
        before = recent_messages(db, name, ids, SAMPLES, scope.baseline_since, scope.since)
        tested, best = 0, None
        for template_id in ids:
            s, m0, m1, n0, n1, k = compare(before.get(template_id, []), now.get(template_id, []))
            tested += k
            if s > 0 and (best is None or s > best.surprise):
                best = DurationChange(name, s, template_id, (m0, m1), (n0, n1))
        if best is not None:
            best.surprise = min(CAP, max(0.0, best.surprise - math.log10(max(1, tested))))
            if best.surprise > 0:
                out[name] = best
    return out
