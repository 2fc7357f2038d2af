"""What changed, measured: how far a service's window departs from its own baseline.

Every number here is a surprise in log10 units: 3 means "this would happen by chance about
once in a thousand windows like this one". The model is the simplest one that is honest at
small counts and short history:

- a service's lines are a mix of its templates; the baseline gives each template a share
  (with a half-count prior, so an unseen template has a small share, not zero), and the
  window's own traffic scales it. A busier hour raises every template together and
  surprises nothing; a template that rises against the others, appears, or stops does.
- its error-or-worse share of all lines is tested the same way (errors rising in
  proportion to traffic are not a change).
- its volume falling far below its own rate (a service that stopped talking) counts; a
  rise in volume alone does not (that is traffic, not a fault).
- the best template surprise is corrected for the number of templates tested (Bonferroni:
  minus log10 of the count), so a chatty service with many templates is not surprising
  just because it has many chances to be.

A service that said nothing at all in the baseline (and had one) is compared with the
half-line-per-template it could have said unnoticed: a new voice that logs errors in the
window is a change even though it has no rates of its own.

What the whole fleet changed by (the lower quartile of the services' surprises: a sampling
rate, a traffic mix, a shared deploy) is no service's own change: a service's score counts
what it changed beyond that.

Short history widens the prior's effect by itself: with 100 baseline lines a template never
seen there is expected at about 1 in 200, and a few window lines of it are only mildly
surprising; with 100,000 baseline lines the same few are very surprising.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

LOG10E = math.log10(math.e)
PRIOR = 0.5                      # pseudo-count per template (and for the error share)
LEVEL_WEIGHT = {"emergency": 1.0, "alert": 1.0, "critical": 1.0, "error": 1.0, "warning": 0.7,
                "notice": 0.45, "info": 0.4, "debug": 0.25}
CAP = 40.0                       # one service's surprise never exceeds this (log10 units)
SCALE = 6.0                      # surprise -> 0..1: 1 - exp(-S / SCALE); S = 3 -> .39, 6 -> .63, 12 -> .86
CHANGED = 2.0                    # the surprise from which a service counts as changed


def _log_pmf(j: int, lam: float) -> float:
    return j * math.log(lam) - lam - math.lgamma(j + 1)


def _log_sum(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def poisson_upper(k: int, lam: float) -> float:
    """-log10 P(X >= k) for X ~ Poisson(lam); 0 when k is not above the mean."""
    if k <= 0 or k <= lam:
        return 0.0
    if lam <= 0:
        return CAP
    terms, j = [], k
    limit = k + 50 + int(10 * math.sqrt(lam + k))
    while j <= limit:
        terms.append(_log_pmf(j, lam))
        if len(terms) > 1 and terms[-1] < terms[0] - 30:
            break
        j += 1
    return min(CAP, max(0.0, -_log_sum(terms) * LOG10E))


def poisson_lower(k: int, lam: float) -> float:
    """-log10 P(X <= k) for X ~ Poisson(lam); 0 when k is not below the mean."""
    if k >= lam or lam <= 0:
        return 0.0
    terms = []
    for j in range(k, -1, -1):
        terms.append(_log_pmf(j, lam))
        if len(terms) > 1 and terms[-1] < terms[0] - 30:
            break
    return min(CAP, max(0.0, -_log_sum(terms) * LOG10E))


@dataclass
class TemplateChange:
    template_id: int
    level: str
    kind: str                    # new | rise | vanished
    baseline: int
    window: int
    expected: float
    surprise: float              # weighted by level, before the correction for many templates
    template: str = ""

    def as_dict(self) -> dict:
        return {"template_id": self.template_id, "kind": self.kind, "level": self.level, "baseline": self.baseline,
                "window": self.window, "expected": round(self.expected, 2), "surprise": round(self.surprise, 2)}


@dataclass
class ServiceChange:
    service: str
    surprise: float = 0.0                                  # the service's total, 0..CAP
    parts: dict[str, float] = field(default_factory=dict)  # templates, errors, volume, slow, paths
    templates: list[TemplateChange] = field(default_factory=list)   # most surprising first
    baseline_lines: int = 0
    window_lines: int = 0
    fleet: float = 0.0           # what the whole fleet changed by (lower quartile): not this service's own

    @property
    def own(self) -> float:
        return max(0.0, self.surprise - self.fleet)

    @property
    def score(self) -> float:
        return 1.0 - math.exp(-self.own / SCALE)

    @property
    def changed(self) -> bool:
        return self.own >= CHANGED

    def top_signal(self) -> str | None:
        return max(self.parts, key=self.parts.get) if self.parts and max(self.parts.values()) > 0 else None

    def add(self, part: str, surprise: float) -> None:
        """Another kind of evidence (trace timing, trace paths): the best part counts fully,
        the others a quarter, capped."""
        self.parts[part] = round(max(self.parts.get(part, 0.0), surprise), 3)
        self.surprise = combine(list(self.parts.values()))


def combine(surprises: list[float]) -> float:
    ordered = sorted((s for s in surprises if s > 0), reverse=True)
    if not ordered:
        return 0.0
    return min(CAP, ordered[0] + 0.25 * sum(min(s, 5.0) for s in ordered[1:]))


def dispersion(per_minute: list[int]) -> float:
    """Index of dispersion of per-minute counts (variance / mean, at least 1): how much burstier
    than Poisson this traffic is. 1 with fewer than 3 minutes to tell."""
    if len(per_minute) < 3:
        return 1.0
    mean = sum(per_minute) / len(per_minute)
    if mean <= 0:
        return 1.0
    var = sum((x - mean) ** 2 for x in per_minute) / (len(per_minute) - 1)
    return max(1.0, var / mean)


def service_change(service: str, rows: list[tuple[int, str, int, int, str]], baseline_minutes: float,
                   window_minutes: float, burst: float = 1.0) -> ServiceChange:
    """rows: (template id, level, baseline count, window count, template text) of one service,
    every template seen in either period. Minutes: how long each period is. `burst`: the
    traffic's dispersion (dispersion()); volume is tested on counts scaled down by it."""
    base_total = sum(r[2] for r in rows)
    win_total = sum(r[3] for r in rows)
    out = ServiceChange(service, baseline_lines=base_total, window_lines=win_total)
    if not rows or window_minutes <= 0:
        return out
    vocabulary = len(rows) + 1
    changes: list[TemplateChange] = []
    silent = base_total == 0 and baseline_minutes > 0
    for template_id, level, base, win, text in rows:
        share = (base + PRIOR) / (base_total + PRIOR * vocabulary)
        if silent:      # said nothing in the whole baseline: each template had about PRIOR lines in it
            expected = PRIOR / vocabulary * window_minutes / baseline_minutes
        elif base_total:
            expected = max(win_total, 1) * share
        else:           # no baseline period at all: nothing to compare with
            continue
        weight = LEVEL_WEIGHT.get(level, 0.4)
        if win > expected:
            surprise = poisson_upper(win, expected) * weight
            kind = "new" if base == 0 else "rise"
        elif win_total >= 1 and base > 0:
            surprise = poisson_lower(win, expected) * weight * 0.8
            kind = "vanished" if win == 0 else "fall"
        else:
            continue
        if surprise > 0:
            changes.append(TemplateChange(template_id, level, kind, base, win, expected, surprise, text))
    changes.sort(key=lambda c: -c.surprise)
    out.templates = changes
    correction = math.log10(max(1, len(rows)))
    best = [max(0.0, c.surprise - correction) for c in changes[:4]]
    out.parts["templates"] = round(combine(best), 3)
    severe = {"error", "critical", "alert", "emergency"}
    base_err = sum(r[2] for r in rows if r[1] in severe)
    win_err = sum(r[3] for r in rows if r[1] in severe)
    if base_total:
        p = (base_err + PRIOR) / (base_total + 2 * PRIOR)
        out.parts["errors"] = round(poisson_upper(win_err, win_total * p), 3)
        rate = (base_total + PRIOR) / max(baseline_minutes, 1.0)
        out.parts["volume"] = round(0.5 * poisson_lower(int(win_total / burst), rate * window_minutes / burst), 3)
    out.surprise = combine(list(out.parts.values()))
    return out


def change_point(series: dict[datetime, dict[object, int]], start: datetime, end: datetime,
                 minimum: int = 1, timings: dict[str, list[tuple[datetime, float]]] | None = None,
                 earliest: datetime | None = None, latest: datetime | None = None) -> datetime | None:
    """The minute that best splits [start, end) into a before and an after with different
    mixes, over every key's per-minute counts (multinomial likelihood ratio of the shares), plus, from
    `timings` (service -> (time, ms) samples, e.g. own times in traces), a shift of each
    service's mean log time (Gaussian likelihood ratio: n/2 log(total var / pooled var)).
    Splits before `earliest` or after `latest` are not considered. None when there are fewer
    than 2 * minimum minutes."""
    step = timedelta(minutes=1)
    minutes = []
    m = start.replace(second=0, microsecond=0)
    while m < end:
        minutes.append(m)
        m += step
    if len(minutes) < 2 * minimum:
        return None
    keys = {k for counts in series.values() for k in counts}
    totals = {k: [series.get(m, {}).get(k, 0) for m in minutes] for k in keys}

    def xlogy(x: float, y: float) -> float:
        return x * math.log(y) if x > 0 else 0.0

    logs = {s: sorted((t, math.log1p(max(0.0, ms))) for t, ms in samples)
            for s, samples in (timings or {}).items() if len(samples) >= 6}
    best, best_at = -1.0, None
    for i in range(minimum, len(minutes) - minimum + 1):
        if earliest is not None and minutes[i] < earliest.replace(second=0, microsecond=0):
            continue
        if latest is not None and minutes[i] > latest:
            continue
        # the mix, not the rates: how each key's share of all lines differs before and after
        # (multinomial likelihood ratio), so a busier minute or a partial one changes nothing
        llr = 0.0
        parts = [(sum(v[:i]), sum(v[i:])) for v in totals.values()]
        big_a, big_b = sum(a for a, _ in parts), sum(b for _, b in parts)
        if big_a == 0 or big_b == 0:
            continue
        for a, b in parts:
            n = a + b
            llr += xlogy(a, a / big_a) + xlogy(b, b / big_b) - xlogy(n, n / (big_a + big_b))
        for samples in logs.values():
            llr += _shift_llr([v for t, v in samples if t < minutes[i]], [v for t, v in samples if t >= minutes[i]])
        if llr > best:
            best, best_at = llr, minutes[i]
    return best_at


def _shift_llr(before: list[float], after: list[float]) -> float:
    """Likelihood ratio of two means against one (equal variance Gaussian), 0 with < 3 a side."""
    if len(before) < 3 or len(after) < 3:
        return 0.0
    both = before + after

    def ss(xs: list[float]) -> float:
        mean = sum(xs) / len(xs)
        return sum((x - mean) ** 2 for x in xs)
    pooled = ss(before) + ss(after)
    total = ss(both)
    if pooled <= 1e-12:
        return 0.0
    return len(both) / 2 * math.log(total / pooled)
