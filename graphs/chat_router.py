"""The chat router: entity extraction (services, hosts, aliases from the inventory; time
windows; incident ids; a quoted log line) and a readable rule table, first match wins."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Literal

from ingest.inventory import Inventory

Route = Literal["incident", "investigate", "runbook", "similar", "changed", "dependencies", "current", "cause",
                "exception", "errors", "overview", "planner"]


@dataclass
class Entities:
    services: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    window_text: str | None = None
    incident_id: int | None = None
    quoted: str | None = None

    def as_dict(self) -> dict:
        return {"services": self.services, "hosts": self.hosts, "incident_id": self.incident_id,
                "quoted": self.quoted, "window": {"since": _iso(self.since), "until": _iso(self.until),
                                                  "text": self.window_text}}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() + "Z" if dt else None


# one parser for every relative window: "last hour", "past 2h", "since 30m", "last 30 min",
# "in the last 30 minutes", "over the past 2 days", "since 2 hours ago"; a bare letter unit
# (m, h, d, w) needs its number
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080}
_RELATIVE = re.compile(r"\b(?:since|last|past)\s+(?:(\d+)\s*(m|h|d|w)\b|(?:(\d+)\s*|an?\s+)?"
                       r"(min(?:ute)?s?|h(?:ou)?rs?|hour|days?|weeks?)\b)(?:\s+ago\b)?", re.I)
_SINCE_CLOCK = re.compile(r"\bsince\s+(yesterday\s+)?(\d{1,2}):(\d{2})\b", re.I)
_INCIDENT = re.compile(r"(?:\bincident\s*#?\s*|#)(\d+)\b", re.I)
_QUOTED = re.compile(r"[\"“']([^\"”']{8,})[\"”']")


def relative_minutes(text: str) -> tuple[int, str] | None:
    """(minutes, the words that said so) of a relative window in `text`, or None."""
    m = _RELATIVE.search(text)
    if not m:
        return None
    amount = int(m.group(1) or m.group(3) or 1)
    unit = (m.group(2) or m.group(4)).lower()[0]
    return amount * _UNIT_MINUTES[unit], m.group(0)


def window(text: str, now: datetime) -> tuple[datetime | None, datetime | None, str | None]:
    relative = relative_minutes(text)
    if relative:
        return now - timedelta(minutes=relative[0]), now, relative[1]
    m = _SINCE_CLOCK.search(text)
    if m:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0) - (timedelta(days=1) if m.group(1) else timedelta())
        start = day.replace(hour=int(m.group(2)), minute=int(m.group(3)))
        if start > now:
            start -= timedelta(days=1)
        return start, now, m.group(0)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if re.search(r"\byesterday\b", text, re.I):
        return midnight - timedelta(days=1), midnight, "yesterday"
    if re.search(r"\btoday\b", text, re.I):
        return midnight, now, "today"
    return None, None, None


def extract(text: str, inventory: Inventory | None, now: datetime) -> Entities:
    found = Entities()
    if inventory is not None:
        for service in inventory.services.values():
            names = {service.name, *service.aliases}
            if any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.I) for n in names):
                found.services.append(service.name)
        hosts = {h for s in inventory.services.values() for h in s.hosts} | set(inventory.hosts)
        named = {h for h in hosts if re.search(rf"(?<![\w-]){re.escape(h)}(?![\w-])", text, re.I)}
        # "the GPU nodes", "database hosts": the hosts of a role the text names
        named |= {h.name for h in inventory.hosts.values()
                  if h.role and re.search(rf"(?<![\w-]){re.escape(h.role)}(?![\w-])", text, re.I)}
        found.hosts = sorted(named)
    found.since, found.until, found.window_text = window(text, now)
    m = _INCIDENT.search(text)
    if m:
        found.incident_id = int(m.group(1))
    m = _QUOTED.search(text)
    if m:
        found.quoted = m.group(1)
    return found


def _has(*words: str) -> Callable[[str, Entities], bool]:
    pattern = re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I)
    return lambda text, _e: bool(pattern.search(text))


NOW_WORDS = re.compile(r"\b(?:right now|now|currently|at the moment|on fire)\b|\bwhat(?:'|’)?s\s+(?:wrong|broken|up|"
                  r"happening|going on)\b|\bwhat is\s+(?:wrong|broken|happening|going on)\b", re.I)
_WHY = re.compile(r"\bwhy\b|\broot cause\b|\bwhat(?:'|’|\s+i)?s?\s+caus(?:ed|es|ing)\b|\bcause of\b", re.I)


# the rule table: (route, when), first match wins; read it top to bottom
RULES: list[tuple[Route, Callable[[str, Entities], bool]]] = [
    ("investigate", lambda t, e: bool(re.search(r"\binvestigate\b", t, re.I)) and bool(e.services or e.hosts)),
    ("incident", lambda t, e: e.incident_id is not None or bool(re.search(r"\bincidents?\b", t, re.I))),
    ("runbook", _has("runbooks?", "playbooks?")),
    ("similar", lambda t, e: e.quoted is not None or bool(re.search(r"\bsimilar\b|\blike this\b", t, re.I))),
    ("changed", _has("changed?", "change", "different", "difference", "compare", "new")),
    ("dependencies", _has("depend(?:s|encies|ency)?", "blast radius", "impact(?:ed)?", "upstream", "downstream",
                          "affects?")),
    # the fleet as it is now, or why something is wrong, with no service or host named ("what is
    # causing the disk errors?", "dashboards feel slow today, why?"): open incidents and their
    # root causes first, then fresh errors
    ("current", lambda t, e: not (e.services or e.hosts) and bool(NOW_WORDS.search(t) or _WHY.search(t))),
    # why a named service failed: the finished investigation's root cause, else its errors
    ("cause", lambda t, e: bool(e.services) and bool(_WHY.search(t))),
    # exceptions with their stack traces, and where in the code they come from
    ("exception", _has("exceptions?", "tracebacks?", "stack ?traces?", "panics?", "in the code",
                       "which (?:file|function|line)")),
    ("errors", _has("errors?", "fail(?:s|ed|ing|ures?)?", "broken", "wrong", "crash(?:es|ed)?")),
    ("overview", lambda t, e: bool(e.services or e.hosts) or bool(re.search(r"\b(?:overview|status|health)\b",
                                                                            t, re.I))),
]


def route(text: str, entities: Entities) -> Route:
    for name, when in RULES:
        if when(text, entities):
            return name
    return "planner"
