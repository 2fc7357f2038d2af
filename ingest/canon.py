"""Canonicalization: a log message -> its template, with the variables masked.

A pure function of the message and the rules version: the same line gives the same
template in every process, in any order, with or without a database. That is what makes
template ids stable and lets many servers share one database without coordination (an
online clusterer such as Drain gives order-dependent templates; see ARCHITECTURE.md).

The rules, in order (each version is frozen once released; change = new CANON_VERSION):
1. typed spans: URLs, emails, UUIDs, timestamps, MACs, IPv6, IPv4 (`<IP>:<NUM>` keeps the
   port apart), hex, paths, durations, numbers;
2. any token still holding a digit is an identifier (`blk_-42`, `attempt_14_0020_m_3`,
   `node-7.example`, `CPU#1`): its alphanumeric core becomes `<ID>`;
3. known formats: `key=value` / `key: value` / `key = value` values; the word after
   `user`/`for ... from` (sshd, PAM); domain names; quoted values; booleans and null.
Typed placeholders (`<IP>`, `<NUM>`...) keep templates readable; `generic()` maps them to
`<*>` for comparison with the log-parsing literature.
"""
from __future__ import annotations

import re
from functools import lru_cache

CANON_VERSION = 1
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
_CORE_HAS_DIGIT = re.compile(r"\d")
_PURE_NUMBER = re.compile(r"[-+]?\d+(?:[.,:]\d+)*%?$")
_SIZE_UNIT = re.compile(r"(?:[KMGTP]i?B|[kKMGTP]|B|bytes)$")
_WITH_UNIT = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[KMGTP]i?B|[kKMGTP]|B|bytes|ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs)$")
_HEX_TOKEN = re.compile(r"0[xX][0-9a-fA-F]+$|(?=[0-9a-f]*[a-f])[0-9a-f]{8,}$")
_KV = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)(=| = )([^\s,;'\"()\[\]{}=]+)")
_USER = re.compile(r"(?i)\b(user|for(?: invalid| illegal)? user|for) ([^\s]+)(?= from\b|(?=\s|$))")
_DOMAIN = re.compile(rf"(?<![\w.-])(?:[A-Za-z0-9-]+\.){{2,}}(?:{_TLDS})\b(?![\w.-])")
_QUOTED = re.compile(r"(?<![\w'])'[^'\s]{1,200}'(?![\w'])|(?<![\w\"])\"[^\"\s]{1,200}\"(?![\w\"])")
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
        if "<" in core:                                     # e.g. "<IP>:50010"
            core = _NUM_RE.sub("<NUM>", core)
        elif _PURE_NUMBER.match(core):
            unit = _EDGES.match(tokens[i + 1]).groups() if i + 1 < len(tokens) else None
            if unit and not unit[0] and _SIZE_UNIT.match(unit[1]):
                core, trail, tokens[i + 1] = "<SIZE>", trail + unit[2], ""   # "2.7 KB," -> "<SIZE>,"
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


def _typed(name: str):
    regex = dict((p, r) for p, r in _SPAN_RES)[f"<{name}>"]
    return _sub(regex, f"<{name}>")


# (guard, step): a step runs only when its cheap guard says it could match; the guards
# are what makes canonicalization fast, the steps are what makes it right
_STEPS = [
    (lambda t: "://" in t, _typed("URL")),
    (lambda t: "@" in t, _typed("EMAIL")),
    (lambda t: "-" in t, _typed("UUID")),
    (lambda t: "'" in t or '"' in t, lambda t: _QUOTED.sub(_quoted, t)),
    (lambda t: "=" in t, _sub(_KV, r"\1\2<*>")),
    (_hint(r"\d:\d\d|\d{4}[-/]\d\d"), _typed("TS")),
    (_hint(r"[0-9a-fA-F]{2}:[0-9a-fA-F]{2}:"), _typed("MAC")),
    (_hint(r"\d\.\d{1,3}\.\d|[0-9a-fA-F]:[0-9a-fA-F]*:"), _typed("IP")),
    (lambda t: "/" in t or "\\" in t, _typed("PATH")),
    (lambda t: "." in t, _sub(_DOMAIN, "<HOST>")),
    (_has_digit, _mask_digit_tokens),
    (lambda t: "user" in t or "User" in t or "USER" in t or "for " in t, lambda t: _USER.sub(_mask_user, t)),
    (lambda t: "true" in t or "false" in t or "null" in t or "TRUE" in t or "FALSE" in t or "True" in t
     or "False" in t or "NULL" in t or "Null" in t, _sub(_BOOL, "<*>")),
    (lambda t: "()" in t, _sub(_EMPTY_PARENS, "(<*>)")),
]


def canonicalize(message: str) -> str:
    """The template of `message` (typed placeholders, single spaces)."""
    text = message.strip()
    if "  " in text or "\t" in text or "\n" in text or "\r" in text:
        text = _SPACE.sub(" ", text)
    for guard, step in _STEPS:
        if guard(text):
            text = step(text)
    return text


def _quoted(m: re.Match) -> str:
    q = m.group(0)[0]
    return f"{q}<STR>{q}"


@lru_cache(maxsize=65536)
def canonicalize_cached(message: str) -> str:
    return canonicalize(message)


def generic(template: str) -> str:
    """Typed placeholders -> `<*>` (the notation of Loghub's ground truth).

    This is a template's identity: lines whose masked forms differ only in placeholder
    types (`(<HOST>)` and an empty `(<*>)`, `user <NUM>` and `user <*>`) are one template.
    """
    return PLACEHOLDER.sub("<*>", template)
