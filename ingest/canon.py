"""Canonicalization: a log message -> its template, with the variables masked.

A pure function of the message and the rules version: the same line gives the same
template in every process, in any order, with or without a database. That is what makes
template ids stable and lets many servers share one database without coordination (an
online clusterer such as Drain gives order-dependent templates; see ARCHITECTURE.md).

The rules, in order (each version is frozen once released; change = new CANON_VERSION):
1. typed spans: URLs, emails, UUIDs, timestamps, MACs, IPv6, IPv4 (`<IP>:<NUM>` keeps the
   port apart), hex, paths, durations, numbers;
2. a number with its unit is one value (`2.7 KB` -> `<SIZE>`, `12 ms` -> `<DURATION>`,
   version 2), a bound belongs to its number (`<1`, `>=5`); any token still holding a digit is an identifier (`blk_-42`, `attempt_14_0020_m_3`,
   `node-7.example`, `CPU#1`): its alphanumeric core becomes `<ID>`;
3. known formats: `key=value` / `key: value` / `key = value` values; the word after
   `user`/`for ... from` (sshd, PAM); domain names; quoted values; booleans and null. A
   quoted word followed by `:` is a key (JSON, a Python dict) and stays; in a message that
   is one JSON object (zap, pino, structlog, logstash), quoted values without a digit stay
   too (`"event": "request_started"` is the statement, not a variable): the learned layer
   finds the ones that vary.
4. a message that is one JSON object (zap, pino, structlog, logstash, bunyan) is parsed: its
   keys stay, in their order; each string value is canonicalized by the rules above on its
   own, and a one-word value is `<STR>` (a quoted word, as in text) unless its key holds the
   statement or its level (STATEMENT_KEYS: `msg`, `event`, `message`...); numbers become
   `<NUM>`, booleans and null `<*>`, arrays `[<*>]`, objects recurse
   (version 3; before it every quoted key was `<STR>`, so all lines of a JSON-logging service
   with as many fields were one template).
Typed placeholders (`<IP>`, `<NUM>`...) keep templates readable; `generic()` maps them to
`<*>` for comparison with the log-parsing literature.

Rule 3 knows families of formats (FAMILY_RULES); `devmesh bench parse` reports what each
changes on every dataset. Variables no rule can know (a word that varies) are found across
lines by the learned layer on top of this one (ingest/learn.py, ingest/merging.py).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

CANON_VERSION = 3
PLACEHOLDER = re.compile(r"<(?:[A-Z]+|\*)>")

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_TIME = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
_TLDS = ("com|net|org|edu|gov|mil|int|io|dev|app|cloud|local|lan|home|internal|corp|arpa|info|"
         "biz|us|uk|de|fr|jp|cn|ru|br|nl|au|ca|it|es|se|ch|kr|tw|hk|pl|at|be|dk|fi|no|cz|eu")

# (placeholder, pattern) applied in order; earlier spans are protected from later rules
_SPANS: list[tuple[str, str]] = [
    ("URL", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+"),
    ("EMAIL", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    ("UUID", r"\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b"),
    ("TS", rf"\b\d{{4}}-\d{{2}}-\d{{2}}[T ]{_TIME}(?:Z|[+-]\d{{2}}:?\d{{2}})?\b"
           rf"|\b{_DAY},? {_MONTH} +\d{{1,2}},? {_TIME}(?: [A-Z]{{3,4}})?(?: \d{{4}})?\b"
           rf"|\b{_MONTH} +\d{{1,2}},? {_TIME}(?: \d{{4}})?\b"
           rf"|\b\d{{4}}[-/]\d{{2}}[-/]\d{{2}}\b|\b{_TIME}\b"),
    ("MAC", r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b"),
    ("IP", r"(?<![\w:])(?=[0-9a-fA-F]*:[0-9a-fA-F]*:)(?=[0-9a-fA-F:]*\d)"
           r"[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w:])"
           r"|(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]*\w)"),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b"),
    ("PATH", r"(?<![\w/<>.:])(?:/[\w.@%+~,-]+)+/?|\b[A-Za-z]:\\[^\s\"']+"),
    ("SIZE", r"(?<![\w.])\d+(?:\.\d+)? ?(?:[KMGTP]i?B|[kKMGTP]|B|bytes)\b"),
    ("DURATION", r"(?<![\w.])\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs)\b"),
    ("NUM", r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]*\w)|(?<=[#x])\d+\b|(?<=_)-?\d+\b"),
]
_SPAN_RES = [(f"<{name}>", re.compile(pattern)) for name, pattern in _SPANS]
_EARLY = _SPAN_RES[:3]                         # URL, EMAIL, UUID: before key=value
_TYPED = _SPAN_RES[3:-1]                       # TS .. DURATION
_NUM_RE = _SPAN_RES[-1][1]
_EMPTY_PARENS = re.compile(r"(?<![^\s=:])\(\)")        # an empty value, not a call: "f()"

# a token still holding a digit: keep its leading/trailing punctuation, mask the core
_EDGES = re.compile(r"^([(\[{'\"]*)(.*?)([)\]}'\",;:.!?]*)$")
_COMPARED = re.compile(r"[<>~]=?(?=[\d.])")          # "<1", ">=5", "~3": the bound is part of the value
_CORE_HAS_DIGIT = re.compile(r"\d")
_PURE_NUMBER = re.compile(r"[-+]?\d+(?:[.,:]\d+)*%?$")
_SIZE_UNIT = re.compile(r"(?:[KMGTP]i?B|[kKMGTP]|B|bytes)$")
_TIME_UNIT = re.compile(r"(?:ns|us|µs|ms|s|sec|secs|seconds?|mins?|minutes?|h|hrs?|hours?|days?)$")
_WITH_UNIT = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[KMGTP]i?B|[kKMGTP]|B|bytes|ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs)$")
_HEX_TOKEN = re.compile(r"0[xX][0-9a-fA-F]+$|(?=[0-9a-f]*[a-f])[0-9a-f]{8,}$")
_KV = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)(=| = )([^\s,;'\"()\[\]{}=]+)")
_USER = re.compile(r"(?i)\b(user|for(?: invalid| illegal)? user|for) ([^\s]+)(?= from\b|(?=\s|$))")
_DOMAIN = re.compile(rf"(?<![\w.-])(?:[A-Za-z0-9-]+\.){{2,}}(?:{_TLDS})\b(?![\w.-])")
_QUOTED = re.compile(r"(?<![\w'])'[^'\s]{1,200}'(?![\w'])|(?<![\w\"])\"[^\"\s]{1,200}\"(?![\w\"])")
_IS_KEY = re.compile(r"\s*:")
_BOOL = re.compile(r"(?i)(?<![\w<])(?:true|false|null)(?![\w>])")
_SPACE = re.compile(r"\s+")


def _mask_digit_tokens(text: str) -> str:
    """One pass over the tokens that hold a digit: numbers (with a unit: sizes, durations),
    hex, numbers next to earlier placeholders, and everything else as an identifier."""
    tokens = text.split(" ")
    for i, token in enumerate(tokens):
        if not _CORE_HAS_DIGIT.search(token):
            continue
        lead, core, trail = _EDGES.match(token).groups()
        compared = _COMPARED.match(core)
        if compared:
            core = core[compared.end():]
        if "<" in core:                                     # e.g. "<IP>:50010"
            core = _NUM_RE.sub("<NUM>", core)
        elif _PURE_NUMBER.match(core):
            unit = _EDGES.match(tokens[i + 1]).groups() if i + 1 < len(tokens) else None
            if unit and not unit[0] and _SIZE_UNIT.match(unit[1]):
                core, trail, tokens[i + 1] = "<SIZE>", trail + unit[2], ""   # "2.7 KB," -> "<SIZE>,"
            elif unit and not unit[0] and not trail and _TIME_UNIT.match(unit[1]):
                core, trail, tokens[i + 1] = "<DURATION>", unit[2], ""       # "5 sec" -> "<DURATION>"
            else:
                core = "<NUM>"
        elif _WITH_UNIT.match(core):
            core = "<SIZE>" if _SIZE_UNIT.match(core.lstrip("0123456789.+-")) else "<DURATION>"
        elif _HEX_TOKEN.match(core):
            core = "<HEX>"
        elif "=" in core:                                   # key=v4lue: the key stays
            core = core.partition("=")[0] + "=<ID>"
        else:
            core = "<ID>"
        tokens[i] = f"{lead}{core}{trail}"
    return " ".join(t for t in tokens if t) if "" in tokens else " ".join(tokens)


def _mask_user(m: re.Match) -> str:
    word, value = m.group(1), m.group(2)
    if word.lower() == "for" and not m.string.startswith(" from", m.end()):
        return m.group(0)                           # only sshd's "for X from"
    if value.lower() in {"from", "by", "on", "at", "to", "unknown", "<*>"}:
        return m.group(0)
    return f"{word} <*>"


def _has_digit(text: str) -> bool:
    return _CORE_HAS_DIGIT.search(text) is not None


def _sub(regex: re.Pattern, replacement):
    return lambda text: regex.sub(replacement, text)


def _hint(pattern: str):
    """A guard: a quick regex that must match somewhere before the full rule is tried."""
    return re.compile(pattern).search


def _both(quick, exact):
    """A guard in two stages: a substring test in C first, the regex only when it passes."""
    return lambda t: quick(t) and exact(t) is not None


def _typed(name: str):
    regex = dict((p, r) for p, r in _SPAN_RES)[f"<{name}>"]
    return _sub(regex, f"<{name}>")


# (guard, step): a step runs only when its cheap guard says it could match; the guards
# are what makes canonicalization fast, the steps are what makes it right
_NAMED_STEPS = [
    ("url", lambda t: "://" in t, _typed("URL")),
    ("email", lambda t: "@" in t, _typed("EMAIL")),
    ("uuid", lambda t: "-" in t, _typed("UUID")),
    ("quoted", lambda t: "'" in t or '"' in t, lambda t: _QUOTED.sub(_quoted_in(t), t)),
    ("key_value", lambda t: "=" in t, _sub(_KV, r"\1\2<*>")),
    ("timestamp", _both(lambda t: ":" in t or "-" in t or "/" in t, _hint(r"\d:\d\d|\d{4}[-/]\d\d")), _typed("TS")),
    ("mac", _both(lambda t: ":" in t, _hint(r"[0-9a-fA-F]{2}:[0-9a-fA-F]{2}:")), _typed("MAC")),
    ("ip", _both(lambda t: "." in t or ":" in t, _hint(r"\d\.\d{1,3}\.\d|[0-9a-fA-F]:[0-9a-fA-F]*:")), _typed("IP")),
    ("path", lambda t: "/" in t or "\\" in t, _typed("PATH")),
    ("domain", lambda t: "." in t, _sub(_DOMAIN, "<HOST>")),
    ("digit_tokens", _has_digit, _mask_digit_tokens),
    ("user", lambda t: "user" in t or "User" in t or "USER" in t or "for " in t, lambda t: _USER.sub(_mask_user, t)),
    ("bool", lambda t: "true" in t or "false" in t or "null" in t or "TRUE" in t or "FALSE" in t or "True" in t
     or "False" in t or "NULL" in t or "Null" in t, _sub(_BOOL, "<*>")),
    ("empty_parens", lambda t: "()" in t, _sub(_EMPTY_PARENS, "(<*>)")),
]
_STEPS = [(guard, step) for _, guard, step in _NAMED_STEPS]
# rules that know one family of formats (rule 3 above); `devmesh bench parse` reports what
# each changes on every dataset, and the learned layer (ingest/learn.py) with them all off
FAMILY_RULES = ("quoted", "key_value", "domain", "user", "bool", "empty_parens")


def steps_without(names) -> list:
    """The step list with the named rules left out (for measuring what a rule is worth)."""
    unknown = set(names) - {n for n, _, _ in _NAMED_STEPS}
    if unknown:
        raise ValueError(f"unknown canon rules: {sorted(unknown)}")
    return [(guard, step) for name, guard, step in _NAMED_STEPS if name not in names]


# Every rule treats the digits 1-9 alike and names 0 only in "0x": two messages that differ
# only in which digits they hold give the same template whenever that template keeps no
# digit. So a message is looked up by its digit shape first (most lines of a statement
# share one), and canonicalized only when that shape is new.
_DIGIT_SHAPE = bytes.maketrans(b"0123456789", b"1111111111")     # bytes.translate runs in C
_SHAPES: dict[bytes, str] = {}
SHAPE_CACHE_MAX = 50_000          # entries; with SHAPE_MAX_LEN, at most ~50 MB whatever clients send
SHAPE_MAX_LEN = 1024              # longer messages are canonicalized each time


def canonicalize(message: str, steps: list | None = None) -> str:
    """The template of `message` (typed placeholders, single spaces)."""
    if steps is not None or len(message) > SHAPE_MAX_LEN or "0x" in message or "0X" in message:
        return _canonicalize(message, steps)
    shape = message.encode("utf-8", "surrogatepass").translate(_DIGIT_SHAPE)
    found = _SHAPES.get(shape)
    if found is None:
        found = _canonicalize(message, None)
        if _CORE_HAS_DIGIT.search(found) is None:
            if len(_SHAPES) >= SHAPE_CACHE_MAX:
                _SHAPES.clear()
            _SHAPES[shape] = found
    return found


def clear_caches() -> None:
    """Forget the digit shapes seen (benchmarks measure a cold start)."""
    _SHAPES.clear()
    canonicalize_cached.cache_clear()


def _canonicalize(message: str, steps: list | None) -> str:
    text = message.strip()
    if text.startswith("{") and text.endswith("}"):
        parsed = _json_object(text)
        if parsed is not None:
            return _json_template(parsed, steps, 0)
    if "  " in text or "\t" in text or "\n" in text or "\r" in text:
        text = _SPACE.sub(" ", text)
    for guard, step in steps or _STEPS:
        if guard(text):
            text = step(text)
    return text


JSON_MAX_DEPTH = 8


def _json_object(text: str) -> dict | None:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


# the keys that hold the statement itself in the JSON loggers' conventions (zap, pino, bunyan,
# logrus and slog "msg", structlog "event", logstash "message") and its level: their values
# are text to canonicalize; any other one-word value is a variable, as a quoted word is in text
STATEMENT_KEYS = frozenset({"msg", "message", "event", "error", "err", "level", "severity", "lvl"})


def _json_template(node, steps: list | None, depth: int, key: str = "") -> str:
    if isinstance(node, dict):
        if depth >= JSON_MAX_DEPTH:
            return "{<*>}"
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_json_template(v, steps, depth + 1, str(k))}"
                               for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[<*>]"
    if isinstance(node, bool) or node is None:
        return "<*>"
    if isinstance(node, (int, float)):
        return "<NUM>"
    value = _canonicalize(str(node), steps) if node else ""
    if key.lower() not in STATEMENT_KEYS and value and " " not in value and not PLACEHOLDER.fullmatch(value):
        value = "<STR>"
    return f'"{value}"'


def _quoted_in(text: str):
    """The replacement for quoted values of `text`: a key stays; in a JSON object a value
    without a digit stays (the learned layer finds the ones that vary)."""
    one_object = text.startswith("{") and text.endswith("}")

    def replace(m: re.Match) -> str:
        if _IS_KEY.match(text, m.end()):
            return m.group(0)
        if one_object and not _CORE_HAS_DIGIT.search(m.group(0)):
            return m.group(0)
        q = m.group(0)[0]
        return f"{q}<STR>{q}"
    return replace


@lru_cache(maxsize=65536)
def canonicalize_cached(message: str) -> str:
    return canonicalize(message)


def generic(template: str) -> str:
    """Typed placeholders -> `<*>` (the notation of Loghub's ground truth).

    This is a template's identity: lines whose masked forms differ only in placeholder
    types (`(<HOST>)` and an empty `(<*>)`, `user <NUM>` and `user <*>`) are one template.
    """
    return PLACEHOLDER.sub("<*>", template)
