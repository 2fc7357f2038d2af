"""A LogQL subset, parsed and evaluated over our events (the read side of Loki's API).

    {service="api", level=~"error|critical", host!="lab"} |= "timeout" != "retry" |~ "5\\d\\d"
    count_over_time({service="api"} |= "timeout" [5m])
    rate({level="error"}[1m])
    sum by (service) (count_over_time({level=~"error|warning"}[5m]))      also: sum(...) by (service)

Labels are the four a record carries: host, service, level, source. Regular expressions are
RE2-like and anchored as Loki anchors label matchers (the whole value); they run with a
time limit (`regex` module), so no pattern can hold a worker. Parsing is pure; an error
says where and what was expected (LogQLError -> 400 in Loki's error shape).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import regex

LABELS = ("host", "service", "level", "source")
REGEX_TIMEOUT_S = 0.05
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class LogQLError(ValueError):
    pass


@dataclass
class Matcher:
    label: str
    op: str                       # = != =~ !~
    value: str
    _re: object = None

    def __post_init__(self):
        if self.op in ("=~", "!~"):
            self._re = _compile(self.value, f"label matcher {self.label}{self.op}")

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = _run(self._re.fullmatch, value)
        return hit if self.op == "=~" else not hit


@dataclass
class LineFilter:
    op: str                       # |= != |~ !~
    value: str
    _re: object = None

    def __post_init__(self):
        if self.op in ("|~", "!~"):
            self._re = _compile(self.value, f"line filter {self.op}")

    def matches(self, line: str) -> bool:
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        hit = _run(self._re.search, line)
        return hit if self.op == "|~" else not hit


@dataclass
class LogQuery:
    matchers: list[Matcher]
    filters: list[LineFilter] = field(default_factory=list)

    def equal(self, label: str) -> list[str] | None:
        """Values an `=` matcher pins (for the SQL filter), or None."""
        return [m.value for m in self.matchers if m.label == label and m.op == "="] or None

    def keeps(self, labels: dict, line: str) -> bool:
        return all(m.matches(labels.get(m.label, "")) for m in self.matchers) and \
            all(f.matches(line) for f in self.filters)


@dataclass
class MetricQuery:
    function: str                 # count_over_time | rate
    log: LogQuery
    range: timedelta
    by: list[str] | None = None   # sum by (...); [] = sum of everything; None = no sum (per stream)


def _compile(pattern: str, where: str):
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise LogQLError(f"{where}: invalid regular expression {pattern!r} ({exc})") from None


def _run(fn, text: str) -> bool:
    try:
        return fn(text, timeout=REGEX_TIMEOUT_S) is not None
    except TimeoutError:
        raise LogQLError("a regular expression took too long on a line; simplify it") from None


def parse_duration(text: str) -> timedelta:
    total, pos = 0.0, 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            raise LogQLError(f"{text!r} is not a duration such as 30s, 5m or 1h30m")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not text or total <= 0:
        raise LogQLError(f"{text!r} is not a positive duration")
    return timedelta(seconds=total)


_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)|(?P<op>\|=|\|~|!=|!~|=~|=)|(?P<punct>[{}(),\[\]])"""
                    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<dur>\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+)""")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].lstrip().startswith("|"):
                raise LogQLError(f"at position {pos}: only line filters (|= != |~ !~) may follow a selector; "
                                 "parsers and formatters (| json, | logfmt, | line_format) are not supported")
            raise LogQLError(f"unexpected {text[pos:pos + 20].strip()!r} at position {pos}")
        kind = m.lastgroup
        value = m.group(kind) if kind != "dur" else m.group(0).strip()
        out.append((kind, value, m.start(kind) if kind != "dur" else pos))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, k: int = 0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None, len(self.text))

    def take(self, kind: str | None = None, value: str | None = None, what: str = "") -> str:
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            found = "the end" if tok[0] is None else repr(tok[1])
            raise LogQLError(f"expected {what or value or kind} at position {tok[2]}, found {found}")
        self.i += 1
        return tok[1]

    def string(self) -> str:
        raw = self.take("str", what="a quoted string")
        if raw.startswith("`"):
            return raw[1:-1]
        body = raw[1:-1]
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)

    def query(self):
        tok = self.peek()
        if tok[0] == "punct" and tok[1] == "{":
            out = self.log_query()
        elif tok[0] == "word" and tok[1] == "sum":
            out = self.sum()
        elif tok[0] == "word":
            out = self.range_function()
        else:
            raise LogQLError("a query starts with a stream selector {...}, count_over_time(...), rate(...) or sum(...)")
        if self.peek()[0] is not None:
            raise LogQLError(f"unexpected {self.peek()[1]!r} at position {self.peek()[2]}")
        return out

    def log_query(self) -> LogQuery:
        self.take("punct", "{")
        matchers = []
        while True:
            label = self.take("word", what="a label name")
            if label not in LABELS:
                raise LogQLError(f"unknown label {label!r}; DevMesh streams have {', '.join(LABELS)}")
            op = self.take("op", what="=, !=, =~ or !~")
            if op not in ("=", "!=", "=~", "!~"):
                raise LogQLError(f"{op!r} is not a label matcher; use =, !=, =~ or !~")
            matchers.append(Matcher(label, op, self.string()))
            if self.peek()[1] == ",":
                self.take()
                continue
            self.take("punct", "}", what="',' or '}'")
            break
        if not any(m.op == "=" or (m.op == "=~" and not m._re.fullmatch("")) for m in matchers):
            raise LogQLError("queries require at least one matcher that does not match the empty string "
                             "(as Loki does), e.g. {service=\"api\"}")
        filters = []
        while self.peek()[0] == "op" and self.peek()[1] in ("|=", "!=", "|~", "!~"):
            op = self.take()
            filters.append(LineFilter(op, self.string()))
        if self.peek()[0] == "op" or (self.peek()[0] == "punct" and self.peek()[1] == "|"):
            raise LogQLError(f"only line filters (|= != |~ !~) may follow a selector, found {self.peek()[1]!r}")
        return LogQuery(matchers, filters)

    def range_function(self) -> MetricQuery:
        name = self.take("word", what="count_over_time or rate")
        if name not in ("count_over_time", "rate"):
            raise LogQLError(f"{name}(...) is not supported; use count_over_time, rate or sum")
        self.take("punct", "(")
        log = self.log_query()
        self.take("punct", "[", what="a range such as [5m]")
        span = parse_duration(self.take("dur", what="a duration such as 5m"))
        self.take("punct", "]")
        self.take("punct", ")")
        return MetricQuery(name, log, span)

    def grouping(self) -> list[str]:
        self.take("word", "by")
        self.take("punct", "(")
        labels = []
        while self.peek()[1] != ")":
            label = self.take("word", what="a label name")
            if label not in LABELS:
                raise LogQLError(f"unknown label {label!r} in by (...); use {', '.join(LABELS)}")
            labels.append(label)
            if self.peek()[1] == ",":
                self.take()
        self.take("punct", ")")
        return labels

    def sum(self) -> MetricQuery:
        self.take("word", "sum")
        by = self.grouping() if self.peek()[1] == "by" else None
        self.take("punct", "(")
        inner = self.range_function()
        self.take("punct", ")")
        if by is None and self.peek()[1] == "by":
            by = self.grouping()
        inner.by = by if by is not None else []
        return inner


def parse(text: str) -> LogQuery | MetricQuery:
    if not text or not text.strip():
        raise LogQLError("query is empty")
    if len(text) > 10_000:
        raise LogQLError("query longer than 10000 characters")
    return _Parser(text).query()
