"""The planner never invents a filter: a tool call's `service` (or `host`) stays only when
the question, or the thread, names it; names are resolved through the inventory (aliases and
units to the service, hosts and roles to their services) before the planner runs, and an
alias the model writes is mapped to its service.

A filter nobody asked for is dropped, so the call searches everything; a call that cannot
run without it (a service's overview, its blast radius) is refused with the reason. Issue 23:
a 0.5B model searched "dashboards feel slow today, why?" with `service: devmesh-api`, and
found nothing about the dashboards."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.inventory import Inventory

FILTERS = ("service", "host")


def names_of(inventory: Inventory | None) -> dict[str, str]:
    """Every way the inventory names a service (its name, aliases, units), lowercased -> the service."""
    out: dict[str, str] = {}
    for service in (inventory.services.values() if inventory else []):
        for name in (service.name, *service.aliases, *service.units):
            out.setdefault(name.lower(), service.name)
    return out


def mentioned_services(services: list[str], hosts: list[str], inventory: Inventory | None) -> list[str]:
    """The services a question names, and those running on the hosts it names (a role names its hosts)."""
    on_hosts = [s.name for s in inventory.services.values() if set(s.hosts) & set(hosts)] if inventory else []
    return list(dict.fromkeys([*services, *on_hosts]))


@dataclass
class Grounding:
    services: list[str]                                    # what the question (or the thread) names, resolved
    hosts: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)    # names_of(inventory)
    question: str = ""                                     # a name it spells out counts too (no inventory)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)   # (tool, key, value) nobody asked for

    def named(self, key: str, value) -> bool:
        if value in self.allowed(key):
            return True
        return isinstance(value, str) and bool(value) and bool(
            re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", self.question, re.I))

    def allowed(self, key: str) -> list[str]:
        return self.services if key == "service" else self.hosts

    def args(self, tool: str, args: dict, required: list[str]) -> tuple[dict | None, str]:
        """(the arguments to run with, a note) or (None, why) when the call needs a filter
        the question never gave."""
        kept, notes = dict(args), []
        for key in FILTERS:
            value = kept.get(key)
            if value is None:
                continue
            if key == "service" and isinstance(value, str):
                value = self.names.get(value.lower(), value)
            if self.named(key, value):
                kept[key] = value
                continue
            self.dropped.append((tool, key, str(value)))
            if key in required:
                asked = ", ".join(self.allowed(key)) or "none"
                return None, (f"{tool} needs a {key}, and {value!r} is not one the question names "
                              f"(it names: {asked})")
            del kept[key]
            notes.append(f"{key}={value} dropped: the question does not name it")
        return kept, "; ".join(notes)
