"""What changed between two windows: templates new, gone, up and down, each with a
significance honest at small counts.

Under "nothing changed" a template's lines fall in the two windows in proportion to their
lengths, whatever its rate: given n = a + b lines, b ~ Binomial(n, tb / (ta + tb)). The
significance is -log10 of the one-sided tail (the conditional test for two Poisson counts),
so 1 line then 3 is not significant (0.5), 0 then 12 is (3.6), and 1,000 then 1,300 is.
Same units as agents/change.py (log10; CHANGED = 2 counts as a change).
"""
from __future__ import annotations

import math
from datetime import datetime

from agents.change import CAP, CHANGED, LOG10E, _log_sum
from db.counts import pattern_minutes
from db.levels import LEVELS
from tools.results import ToolResult

KINDS = ("new", "gone", "up", "down")


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
            + (n - k) * math.log1p(-p))


def binomial_upper(k: int, n: int, p: float) -> float:
    """-log10 P(X >= k), X ~ Binomial(n, p); 0 when k is not above the mean."""
    if k <= n * p or n <= 0:
        return 0.0
    if p <= 0:
        return CAP
    if p >= 1:
        return 0.0
    terms = [_log_binom_pmf(j, n, p) for j in range(k, min(n, k + 400) + 1)]
    return min(CAP, max(0.0, -_log_sum(terms) * LOG10E))


def binomial_lower(k: int, n: int, p: float) -> float:
    """-log10 P(X <= k)."""
    return binomial_upper(n - k, n, 1.0 - p) if 0 < p < 1 else 0.0


def compare(before: dict[tuple[str, int], dict], after: dict[tuple[str, int], dict], before_minutes: float,
            after_minutes: float, limit: int = 20) -> dict:
    """before / after: (service, template id) -> {"count", "level", "template"}. Returns
    {new, gone, up, down}: each a list of rows, most significant first."""
    p = after_minutes / (before_minutes + after_minutes)
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    for key in set(before) | set(after):
        a = int(before.get(key, {}).get("count", 0))
        b = int(after.get(key, {}).get("count", 0))
        n = a + b
        info = after.get(key) or before.get(key)
        up = binomial_upper(b, n, p)
        down = binomial_lower(b, n, p)
        if a == 0:
            kind, sig = "new", up
        elif b == 0:
            kind, sig = "gone", down
        elif up > 0:
            kind, sig = "up", up
        elif down > 0:
            kind, sig = "down", down
        else:
            continue
        rate_a, rate_b = a / before_minutes, b / after_minutes
        out[kind].append({"service": key[0], "template_id": key[1], "template": info.get("template"),
                          "level": info.get("level"), "count_a": a, "count_b": b,
                          "ratio": round(rate_b / rate_a, 3) if rate_a else None,
                          "significance": round(sig, 2), "significant": sig >= CHANGED})
    for kind in KINDS:
        out[kind].sort(key=lambda r: (-r["significance"], -(r["count_a"] + r["count_b"]), r["template_id"]))
        out[kind] = out[kind][:limit]
    return out


def rows_to_counts(rows) -> dict[tuple[str, int], dict]:
    """db.counts.pattern_minutes rows -> (service, template id) -> {count, level, template}."""
    out: dict[tuple[str, int], dict] = {}
    for _bucket, service, _host, level, template_id, template, count in rows:
        entry = out.setdefault((service, int(template_id)), {"count": 0, "level": level, "template": template})
        entry["count"] += int(count)
        if LEVELS.index(level) > LEVELS.index(entry["level"]):
            entry["level"] = level
    return out


def changes(db, service: str | None, host: str | None, a: tuple[datetime, datetime], b: tuple[datetime, datetime],
            limit: int = 20) -> dict:
    """Window a (before) against window b (after), read from the minute rollups."""
    services, hosts = ([service] if service else None), ([host] if host else None)
    rows_a = pattern_minutes(db, services, hosts, None, a[0], a[1])
    rows_b = pattern_minutes(db, services, hosts, None, b[0], b[1])
    minutes_a = max((a[1] - a[0]).total_seconds() / 60, 1.0)
    minutes_b = max((b[1] - b[0]).total_seconds() / 60, 1.0)
    found = compare(rows_to_counts(rows_a), rows_to_counts(rows_b), minutes_a, minutes_b, limit)
    lines_a, lines_b = sum(int(r[6]) for r in rows_a), sum(int(r[6]) for r in rows_b)
    return {"a": {"since": a[0], "until": a[1], "lines": lines_a}, "b": {"since": b[0], "until": b[1], "lines": lines_b},
            **found}


def changes_tool(ctx, service: str | None, before: tuple[datetime, datetime], after: tuple[datetime, datetime]
                 ) -> ToolResult:
    """The chat's "what changed": changes() as a ToolResult (tools/results.py)."""
    searched = {"service": service, "before": before, "after": after}
    data = changes(ctx.db, service, None, before, after, limit=10)
    if not any(data[k] for k in KINDS):
        return ToolResult("no_data", data, searched, hint="nothing changed between the two windows")
    return ToolResult("ok", data, searched)
