"""Structured analysis of one window of logs: triage, then a deterministic extraction.

Pure: the input is rollup rows (minute x service x host x level x template -> count, as
`db.counts.pattern_minutes` reads them, or as the extraction eval builds them from its
lines); nothing here does I/O.

Triage ranks the window's warning-or-worse templates (and any template the catastrophic
catalogue names) by

    score = severity weight x breadth x (surprise + 0.1 log10(1 + count))

- severity weight: the level's (agents.change.LEVEL_WEIGHT), raised for a catastrophic
  primitive (detectors.catalogue);
- surprise (log10 units, agents.change.poisson_upper): the window's count against the
  template's own history in this service, cut into windows of the same length. Counts are
  scaled down by the template's dispersion across those windows, so a burst that comes back
  every hour (a cron job, a backup) is habitual, not a rise; a template never seen in the
  history had a half-line (PRIOR) it could have said unnoticed, so it is novel;
- breadth: 1 + log2(hosts that logged it).

The extraction reads the top-ranked template when it is notable (surprising, or an error
in a window without history), else says the window holds no new problem (severity info).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agents.change import CHANGED, LEVEL_WEIGHT, PRIOR, dispersion, poisson_upper
from db.levels import LEVELS
from detectors.catalogue import Primitive, match

SEVERE = ("error", "critical", "alert", "emergency")
SEVERITIES = ("critical", "high", "medium", "low", "info")
MINUTE = timedelta(minutes=1)
CATASTROPHIC_BONUS = 3.0               # log10 units a catastrophic primitive adds to its surprise


@dataclass
class TemplateStat:
    service: str
    template_id: int
    template: str
    level: str = "debug"                 # the most severe level it was seen at
    count: int = 0                       # in the window
    baseline: int = 0                    # in the history before the window
    hosts: set[str] = field(default_factory=set)
    first: datetime | None = None        # first minute in the window
    history: list[int] = field(default_factory=list)   # counts per history slice (window-sized)


@dataclass
class Candidate:
    stat: TemplateStat
    score: float
    surprise: float
    novel: bool
    habitual: bool                       # seen in most history slices at about this count
    ratio: float | None                  # window count / its mean per history slice
    primitive: Primitive | None

    @property
    def notable(self) -> bool:
        if self.stat.level not in SEVERE and self.primitive is None and self.stat.level != "warning":
            return self.surprise >= 2 * CHANGED           # an info line must be far from its habit to count
        return self.surprise >= CHANGED or (self.novel and self.stat.level in SEVERE) or \
            (self.primitive is not None and self.surprise >= 1.0)

    def as_dict(self) -> dict:
        s = self.stat
        return {"template_id": s.template_id, "template": s.template, "service": s.service, "level": s.level,
                "count": s.count, "baseline": s.baseline, "hosts": sorted(s.hosts),
                "first_seen": s.first.isoformat() + "Z" if s.first else None, "score": round(self.score, 3),
                "surprise": round(self.surprise, 2), "novel": self.novel, "habitual": self.habitual,
                "rate_ratio": None if self.ratio is None else round(self.ratio, 2),
                "catastrophic": self.primitive.name if self.primitive else None, "notable": self.notable}


@dataclass
class WindowView:
    since: datetime
    until: datetime
    baseline_since: datetime
    stats: dict[tuple[str, int], TemplateStat]
    slices: int                                        # history slices of the window's length
    lines: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)           # lines per service in the window
    history_services: dict[str, int] = field(default_factory=dict)   # lines per service before it
    truncated: bool = False


def build_view(rows, since: datetime, until: datetime, baseline_since: datetime, truncated: bool = False
               ) -> WindowView:
    """rows: (bucket, service, host, level, template_id, template, count) in [baseline_since, until)."""
    length = max(until - since, MINUTE)
    slices = int((since - baseline_since) / length) if baseline_since < since else 0
    view = WindowView(since, until, baseline_since, {}, slices, truncated=truncated)
    for bucket, service, host, level, template_id, template, count in rows:
        count = int(count)
        key = (service, int(template_id))
        stat = view.stats.get(key)
        if stat is None:
            stat = view.stats[key] = TemplateStat(service, int(template_id), template, history=[0] * slices)
        if LEVELS.index(level) > LEVELS.index(stat.level):
            stat.level = level
        if since <= bucket < until:
            stat.count += count
            stat.hosts.add(host)
            stat.first = bucket if stat.first is None else min(stat.first, bucket)
            view.lines += count
            view.by_level[level] = view.by_level.get(level, 0) + count
            view.services[service] = view.services.get(service, 0) + count
        elif bucket < since:
            back = int((since - bucket - timedelta(microseconds=1)) / length)    # 0 = the slice just before
            if back < slices:
                stat.history[slices - 1 - back] += count
                stat.baseline += count
                view.history_services[service] = view.history_services.get(service, 0) + count
    return view


def surprise_of(stat: TemplateStat, slices: int) -> tuple[float, bool, float | None]:
    """(surprise in log10 units, habitual, ratio to its mean per slice) of the window's count."""
    if slices == 0 or stat.count == 0:
        return 0.0, False, None
    mean = stat.baseline / slices
    burst = dispersion(stat.history) if stat.baseline else 1.0
    expected = (stat.baseline + PRIOR) / slices
    surprise = poisson_upper(math.ceil(stat.count / burst), expected / burst)
    seen = sum(1 for c in stat.history if c > 0)
    habitual = stat.baseline > 0 and seen >= max(2, slices // 3) and stat.count <= 2 * max(stat.history)
    return surprise, habitual, (stat.count / mean if mean else None)


def triage(view: WindowView, limit: int = 20) -> list[Candidate]:
    """The window's warning-or-worse (or catastrophic) templates, highest triage score first."""
    out = []
    for stat in view.stats.values():
        if stat.count == 0:
            continue
        found = match(stat.template)
        primitive = found[0] if found else None
        surprise, habitual, ratio = surprise_of(stat, view.slices)
        quiet = LEVELS.index(stat.level) < LEVELS.index("warning") and primitive is None
        if quiet and surprise < 2 * CHANGED:          # info and below: only far from its habit
            continue
        weight = LEVEL_WEIGHT.get(stat.level, 0.4) * (1.3 if stat.level in SEVERE[1:] else 1.0)
        bonus = 0.0
        if primitive is not None:                     # catastrophic whatever the baseline says
            weight = max(weight, 1.0) * (1.5 if primitive.severity == "critical" else 1.2)
            bonus = CATASTROPHIC_BONUS
        breadth = 1.0 + math.log2(max(1, len(stat.hosts)))
        score = weight * breadth * (surprise + bonus + 0.1 * math.log10(1 + stat.count))
        out.append(Candidate(stat, score, surprise, view.slices > 0 and stat.baseline == 0, habitual, ratio,
                             primitive))
    out.sort(key=lambda c: (-c.score, -c.stat.count, c.stat.template_id))
    return out[:limit]


def loudest(view: WindowView) -> TemplateStat | None:
    """The naive pick: the window's error-or-worse template with the most lines (else warning)."""
    for levels in (SEVERE, ("warning",)):
        pool = [s for s in view.stats.values() if s.count and s.level in levels]
        if pool:
            return max(pool, key=lambda s: (s.count, -s.template_id))
    return None


def pick(view: WindowView, candidates: list[Candidate]) -> Candidate | None:
    """The template the extraction is about: the top candidate when notable; without any
    history an error is notable by itself (nothing says it is habitual)."""
    if not candidates:
        return None
    top = candidates[0]
    if top.notable or (view.slices == 0 and top.stat.level in SEVERE):
        return top
    return None


def severity(c: Candidate) -> str:
    s = c.stat
    if (c.primitive is not None and c.primitive.severity == "critical") or s.level in SEVERE[1:]:
        return "critical"
    if s.level == "error":
        return "high" if c.primitive is not None or len(s.hosts) >= 2 or s.count >= 10 else "medium"
    return "medium" if c.surprise >= 6 else "low"
