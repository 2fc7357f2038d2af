"""Noise filters from YAML, validated at start; each rule counts what it dropped.

    rules:
      - name: drop-debug              # optional; defaults to "rule N"
        action: exclude               # exclude (default) | include
        priority: 7                   # int, list, "A..B", or names (debug, info, ... emerg)
      - name: only-services
        action: include
        unit: [nginx.service, mariadb.service]
      - name: health-checks
        identifier: [nginx]
        message: 'GET /healthz'       # regular expression, searched in MESSAGE

An entry is dropped when it matches any exclude rule; when include rules exist, it is
kept only if it matches one of them. Within a rule, every condition given must match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PRIORITY_NAMES = {"emerg": 0, "emergency": 0, "alert": 1, "crit": 2, "critical": 2, "err": 3, "error": 3,
                  "warning": 4, "warn": 4, "notice": 5, "info": 6, "debug": 7}
_KEYS = {"name", "action", "unit", "identifier", "priority", "message"}
NOT_INCLUDED = "not-included"


class FilterError(ValueError):
    """The filters file is invalid; the message names the file, the rule and the fix."""


@dataclass
class Rule:
    name: str
    action: str
    units: set[str] | None = None
    identifiers: set[str] | None = None
    priorities: set[int] | None = None
    message: re.Pattern | None = None

    def matches(self, unit: str | None, identifier: str | None, priority: int | None, message: str) -> bool:
        if self.units is not None and unit not in self.units:
            return False
        if self.identifiers is not None and identifier not in self.identifiers:
            return False
        if self.priorities is not None and priority not in self.priorities:
            return False
        return self.message is None or self.message.search(message) is not None


@dataclass
class Filters:
    rules: list[Rule] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def drop_reason(self, unit: str | None, identifier: str | None, priority: int | None,
                    message: str) -> str | None:
        """The name of the rule that drops this entry, or None to keep it. Entries outside
        every include rule count as "not-included"; an exclude rule counts what it alone
        removed from what would have been shipped."""
        includes = [r for r in self.rules if r.action == "include"]
        if includes and not any(r.matches(unit, identifier, priority, message) for r in includes):
            return self._count(NOT_INCLUDED)
        for rule in self.rules:
            if rule.action == "exclude" and rule.matches(unit, identifier, priority, message):
                return self._count(rule.name)
        return None

    def _count(self, name: str) -> str:
        self.dropped[name] = self.dropped.get(name, 0) + 1
        return name


def _priorities(value, where: str) -> set[int]:
    items = value if isinstance(value, list) else [value]
    out: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise FilterError(f"{where}: priority must be 0-7 or a name, not {item!r}")
        if isinstance(item, int):
            numbers = [item]
        elif isinstance(item, str) and ".." in item:
            low, _, high = item.partition("..")
            numbers = list(range(_one(low.strip(), where), _one(high.strip(), where) + 1))
        else:
            numbers = [_one(item, where)]
        for n in numbers:
            if not 0 <= n <= 7:
                raise FilterError(f"{where}: priority {n} is outside 0 (emerg) .. 7 (debug)")
        out.update(numbers)
    return out


def _one(item, where: str) -> int:
    if isinstance(item, int):
        return item
    text = str(item).strip().lower()
    if text.isdigit():
        return int(text)
    if text in PRIORITY_NAMES:
        return PRIORITY_NAMES[text]
    raise FilterError(f"{where}: unknown priority {item!r}; use 0-7 or one of {', '.join(PRIORITY_NAMES)}")


def _names(value, where: str, key: str) -> set[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) and i for i in items):
        raise FilterError(f"{where}: {key} must be a name or a list of names")
    return set(items)


def parse(data, source: str = "filters") -> Filters:
    if data is None:
        return Filters()
    if not isinstance(data, dict) or set(data) - {"rules"}:
        raise FilterError(f"{source}: expected a mapping with one key, 'rules' (a list)")
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise FilterError(f"{source}: 'rules' must be a list")
    out = Filters()
    seen: set[str] = set()
    for number, raw in enumerate(rules, 1):
        if not isinstance(raw, dict):
            raise FilterError(f"{source}: rule #{number} must be a mapping")
        name = str(raw.get("name") or f"rule {number}")
        where = f"{source}: rule '{name}' (#{number})"
        unknown = set(raw) - _KEYS
        if unknown:
            raise FilterError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
        if name in seen:
            raise FilterError(f"{where}: duplicate name; give each rule its own name")
        seen.add(name)
        action = raw.get("action", "exclude")
        if action not in ("include", "exclude"):
            raise FilterError(f"{where}: action must be include or exclude, not {action!r}")
        if not set(raw) & {"unit", "identifier", "priority", "message"}:
            raise FilterError(f"{where}: give at least one of unit, identifier, priority, message")
        rule = Rule(name, action)
        if "unit" in raw:
            rule.units = _names(raw["unit"], where, "unit")
        if "identifier" in raw:
            rule.identifiers = _names(raw["identifier"], where, "identifier")
        if "priority" in raw:
            rule.priorities = _priorities(raw["priority"], where)
        if "message" in raw:
            if not isinstance(raw["message"], str):
                raise FilterError(f"{where}: message must be a regular expression string")
            try:
                rule.message = re.compile(raw["message"])
            except re.error as exc:
                raise FilterError(f"{where}: message is not a valid regular expression: {exc}") from None
        out.rules.append(rule)
    return out


def load(path: Path | None) -> Filters:
    if path is None:
        return Filters()
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise FilterError(f"{path}: no such filters file") from None
    except yaml.YAMLError as exc:
        raise FilterError(f"{path}: not valid YAML: {exc}") from None
    return parse(data, str(path))
