"""The chat router: entity extraction (services, hosts, aliases from the inventory; time
windows; incident ids; a quoted log line) and a readable rule table, first match wins."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Literal

from ingest.inventory import Inventory

Route = Literal["incident", "investigate", "similar", "changed", "dependencies", "errors", "overview", "planner"]


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


_UNITS = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "day": 1440, "week": 10080}
_LAST = re.compile(r"\b(?:last|past)\s+(\d+)?\s*(minute|min|hour|hr|day|week)s?\b", re.I)
_SINCE_CLOCK = re.compile(r"\bsince\s+(yesterday\s+)?(\d{1,2}):(\d{2})\b", re.I)
_INCIDENT = re.compile(r"(?:\bincident\s*#?\s*|#)(\d+)\b", re.I)
_QUOTED = re.compile(r"[\"“']([^\"”']{8,})[\"”']")


def window(text: str, now: datetime) -> tuple[datetime | None, datetime | None, str | None]:
    m = _LAST.search(text)
    if m:
        minutes = int(m.group(1) or 1) * _UNITS[m.group(2).lower()]
        return now - timedelta(minutes=minutes), now, m.group(0)
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
        found.hosts = sorted(h for h in hosts if re.search(rf"(?<![\w-]){re.escape(h)}(?![\w-])", text, re.I))
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


# the rule table: (route, when), first match wins; read it top to bottom
RULES: list[tuple[Route, Callable[[str, Entities], bool]]] = [
    ("investigate", lambda t, e: bool(re.search(r"\binvestigate\b", t, re.I)) and bool(e.services or e.hosts)),
    ("incident", lambda t, e: e.incident_id is not None or bool(re.search(r"\bincidents?\b", t, re.I))),
    ("similar", lambda t, e: e.quoted is not None or bool(re.search(r"\bsimilar\b|\blike this\b", t, re.I))),
    ("changed", _has("changed?", "change", "different", "difference", "compare", "new")),
    ("dependencies", _has("depend(?:s|encies|ency)?", "blast radius", "impact(?:ed)?", "upstream", "downstream",
                          "affects?")),
    ("errors", _has("errors?", "fail(?:s|ed|ing|ures?)?", "exceptions?", "broken", "wrong", "crash(?:es|ed)?")),
    ("overview", lambda t, e: bool(e.services or e.hosts) or bool(re.search(r"\b(?:overview|status|health)\b",
                                                                            t, re.I))),
]


def route(text: str, entities: Entities) -> Route:
    for name, when in RULES:
        if when(text, entities):
            return name
    return "planner"
