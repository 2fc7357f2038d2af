"""What must not open an incident on its own: maintenance and habit.

- Maintenance. A service (or one next to it in the graph) that is being stopped,
  started, restarted or upgraded (systemd's unit lines, dpkg/apt, ansible tasks, an app's
  own shutdown/startup lines) makes a few transient errors in the minutes around it (a
  line counts for its own service and the units it names, never for a whole host: systemd
  starts sessions and timers all day). A
  signal inside that grace is held, not dropped: when the grace ends, it is released (and
  opens or joins an incident) only if what it saw is still happening; otherwise it was
  the restart, and is counted as absorbed.
- Habit. With a day of history, a signal whose errors (or templates) were there at the same
  time yesterday, at least half as strong, is a recurring job (a nightly backup), not news.
  Critical signals (OOM kills, disk full, segfaults, panics) are never held or dismissed.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from db import detector_sql as sql
from detectors.signals import Signal

LIFECYCLE = re.compile(
    r"\b(?:stopping|stopped|starting|started|restarting|reloading|reloaded)\b|deactivated successfully|"
    r"scheduled restart job|\b(?:unpacking|setting up|preparing to unpack)\b|^(?:task|play) \[|"
    r"shutting down|graceful(?:ly)? shut|received sig(?:term|int|hup)|ready to accept connections|"
    r"listening on|server started|startup complete", re.I)
DAY = timedelta(days=1)
SEASON = timedelta(minutes=30)


def maintenance(rows: list[tuple[datetime, str, str, int, str, int]], units: dict[str, str]
                ) -> dict[str, datetime]:
    """rows: sql.active_minutes. -> service -> last lifecycle minute. A lifecycle line counts
    for its own service and for every unit it names."""
    services: dict[str, datetime] = {}
    for minute, service, _host, _tid, text, _n in rows:
        if not LIFECYCLE.search(text):
            continue
        named = {units[t] for t in (w.lower().strip(".,:;()[]'\"") for w in text.split()) if t in units}
        for name in {service, *named}:
            services[name] = max(services.get(name, minute), minute)
    return services


def holds(sig: Signal, services: dict[str, datetime], neighbours: set[str], grace: timedelta) -> datetime | None:
    """Until when this signal waits (None: it goes on now). `services`: the last lifecycle
    minute of each service over the lookback (grace + the stopped detector's quiet minutes).
    A line that stopped after a restart or an upgrade is most likely the new version's
    wording: a stopped signal with a lifecycle anywhere in the lookback waits forever, i.e.
    is absorbed (returned as datetime.max); other signals wait for the grace after it."""
    if sig.severity == "critical":
        return None
    times = [services[s] for s in {sig.service, *neighbours} if s in services]
    if sig.detector == "stopped":
        return datetime.max if times else None
    recent = [t for t in times if t >= sig.at - grace]
    return max(recent) + grace if recent else None


def still_happening(cur, held: dict, since: datetime, until: datetime, min_errors: int) -> bool:
    if held["template_ids"]:
        return sql.templates_seen(cur, held["template_ids"], held["service"], since, until) > 0
    return sum(sql.service_errors(cur, held["service"], since, until)) >= min_errors


def stayed_down(cur, held: dict, until: datetime, baseline: timedelta = timedelta(hours=1)) -> bool:
    """The service (on the signal's host) fell silent after the restart the signal waited out,
    where its own rate says it would have spoken: nothing in the minutes since the signal,
    against at least 3 lines expected from the hour before it (a Poisson silence that long
    happens by chance less than 1 time in 20). A restart that failed and left the unit dead
    is not absorbed because its error lines stopped: they stopped because it did. A service
    too quiet to tell keeps the benefit of the doubt."""
    at = datetime.fromisoformat(held["at"])
    after = at + timedelta(minutes=1)
    if until <= after:
        return False
    rate = sql.lines_of(cur, held["service"], held.get("host"), at - baseline, at) / (baseline / timedelta(minutes=1))
    expected = rate * ((until - after) / timedelta(minutes=1))
    return expected >= 3 and sql.lines_of(cur, held["service"], held.get("host"), after, until) == 0


def habitual(cur, sig: Signal, history_from: datetime | None) -> bool:
    """The same errors at the same time yesterday, at least half as strong."""
    if sig.severity == "critical" or history_from is None or history_from > sig.at - DAY - SEASON:
        return False
    since, until = sig.at - DAY - SEASON, sig.at - DAY + SEASON
    if sig.template_ids:
        now = sql.templates_seen(cur, sig.template_ids, sig.service, sig.at, sig.at + timedelta(minutes=1))
        then = sql.templates_seen(cur, sig.template_ids, sig.service, since, until)
        return then > 0 and then >= 0.5 * now
    errors = sig.detail.get("errors")
    if errors is None:
        return False
    return max(sql.service_errors(cur, sig.service, since, until), default=0) >= 0.5 * errors


def as_dict(sig: Signal, until: datetime) -> dict:
    return {"detector": sig.detector, "service": sig.service, "at": sig.at.isoformat(), "severity": sig.severity,
            "message": sig.message, "host": sig.host, "template_ids": sig.template_ids, "detail": sig.detail,
            "until": until.isoformat()}


def from_dict(row: dict, note: str = "still there after a restart's grace") -> Signal:
    return Signal(row["detector"], row["service"], datetime.fromisoformat(row["at"]), row["severity"],
                  row["message"] + f" ({note})", row.get("host"),
                  list(row.get("template_ids") or []), dict(row.get("detail") or {}))
