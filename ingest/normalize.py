"""Normalize one wire record: UTC microsecond timestamps, one level vocabulary, required fields.

Pure functions. A record that cannot be normalized raises `RecordError` with a message
that says what is wrong and how to fix it; the caller rejects that record alone.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from db.levels import LEVELS  # noqa: E402 - one vocabulary for the code and the ENUM columns
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
_ALIASES = {
    "trace": "debug", "dbg": "debug", "verbose": "debug", "d": "debug",
    "informational": "info", "information": "info", "i": "info", "inf": "info",
    "warn": "warning", "w": "warning", "wrn": "warning",
    "err": "error", "e": "error", "eror": "error", "severe": "error", "failure": "error",
    "crit": "critical", "fatal": "critical", "f": "critical", "c": "critical",
    "emerg": "emergency", "panic": "emergency",
}
# syslog / journald PRIORITY 0..7
_PRIORITY = {0: "emergency", 1: "alert", 2: "critical", 3: "error", 4: "warning", 5: "notice",
             6: "info", 7: "debug"}
_LEVEL_IN_TEXT = re.compile(r"\b(FATAL|PANIC|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_NAME_MAX = 128
META_MAX_DEPTH = 16                   # MariaDB's JSON check refuses 32+ levels; nobody needs 16
META_MAX_BYTES = 64_000
MESSAGE_MAX_BYTES = 65_000
_OPTIONAL_STR = {"source": 64, "trace_id": 64, "span_id": 32, "event_type": 64, "error_code": 64}
KNOWN_FIELDS = {"timestamp", "host", "service", "level", "message", "source", "trace_id",
                "span_id", "event_type", "error_code", "meta"}


class RecordError(ValueError):
    """This record cannot be stored; the message names the field and the fix."""


@dataclass(slots=True)
class Record:
    """A normalized log record, ready to be hashed, templated and stored."""

    ts: datetime                     # naive UTC, microsecond precision (MariaDB DATETIME(6))
    host: str
    service: str
    level: str
    message: str
    source: str = ""
    trace_id: str | None = None
    span_id: str | None = None
    event_type: str | None = None
    error_code: str | None = None
    meta: dict | None = None

    def meta_json(self) -> str | None:
        if not self.meta:
            return None
        return json.dumps(self.meta, ensure_ascii=False, separators=(",", ":"), default=str)

    def log_hash(self) -> bytes:
        """Identity for dedup: the same line from the same place at the same instant."""
        key = "\x1f".join((self.ts.isoformat(), self.host, self.service, self.source, self.message))
        return hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()


def normalize_level(value, message: str = "") -> str:
    """Any common level spelling (or syslog priority number) -> one of LEVELS."""
    if value is None or value == "":
        m = _LEVEL_IN_TEXT.search(message[:200])
        return normalize_level(m.group(1)) if m else "info"
    if isinstance(value, bool):
        raise RecordError("level: expected a name such as 'error' or a syslog priority 0-7")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()):
        if isinstance(value, str) and len(value.strip()) > 3:
            raise RecordError(f"level: priority {value.strip()[:12]}... is outside syslog's 0-7")
        number = int(value)
        if number in _PRIORITY:
            return _PRIORITY[number]
        raise RecordError(f"level: priority {number} is outside syslog's 0-7")
    if not isinstance(value, str):
        raise RecordError("level: expected a string")
    name = value.strip().lower()
    if name in LEVEL_RANK:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise RecordError(f"level: unknown level {value[:40]!r}; use one of {', '.join(LEVELS)}")


_EPOCH_TEXT = re.compile(r"\d+(?:\.\d+)?$")
_EXCESS_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value) -> datetime:
    """ISO 8601 (offset or Z; naive means UTC) or epoch s/ms/us/ns -> naive UTC datetime."""
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)       # the common case, in C
        except ValueError:
            dt = _parse_slow(value)
    else:
        dt = _parse_slow(value)
    if dt.tzinfo is not None:
        try:                                  # 0001-01-01T00:00:00+01:00 has no UTC instant
            dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise RecordError(f"timestamp: {str(value)[:40]!r} is out of range") from None
    if not 1970 <= dt.year <= 2200:
        raise RecordError(f"timestamp: year {dt.year} is implausible")
    return dt


def _parse_slow(value) -> datetime:
    if isinstance(value, bool) or value is None or value == "":
        raise RecordError("timestamp: required (ISO 8601 such as 2026-01-20T10:00:00Z, or epoch seconds)")
    if isinstance(value, str) and _EPOCH_TEXT.match(value.strip()):
        if len(value.strip()) > 40:
            raise RecordError(f"timestamp: epoch value {value.strip()[:20]}... is out of range")
        value = float(value) if "." in value else int(value)
    if isinstance(value, (int, float)):
        try:                                  # a 401-digit integer does not fit a float
            magnitude = abs(value)
            seconds = (value / 1e9 if magnitude >= 1e17 else value / 1e6 if magnitude >= 1e14
                       else value / 1e3 if magnitude >= 1e11 else value)
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise RecordError(f"timestamp: epoch value {str(value)[:20]} is out of range") from None
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        text = _EXCESS_FRACTION.sub(r"\1", text)            # nanoseconds -> microseconds
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise RecordError(f"timestamp: {value!r} is not ISO 8601 (e.g. 2026-01-20T10:00:00.123Z)") from None
    raise RecordError("timestamp: expected an ISO 8601 string or epoch number")


def _name(raw: dict, field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{field}: required, a non-empty string")
    value = clean_text(value.strip())
    if len(value) > _NAME_MAX:
        raise RecordError(f"{field}: longer than {_NAME_MAX} characters")
    if _CONTROL.search(value):
        raise RecordError(f"{field}: contains a control character (NUL, newline, tab...); names are printable text")
    return value


def clean_text(text: str) -> str:
    """Lone surrogates (legal in JSON, not in UTF-8) become U+FFFD instead of failing the batch."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _clean_meta(node, depth: int = 1):
    """meta with every string (keys too) cleaned, non-finite floats as text; RecordError
    when it nests deeper than META_MAX_DEPTH (no recursion past that, whatever a client sends)."""
    if isinstance(node, dict):
        if depth > META_MAX_DEPTH:
            raise RecordError(f"meta: nested deeper than {META_MAX_DEPTH} levels; flatten it")
        return {clean_text(str(k)): _clean_meta(v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        if depth > META_MAX_DEPTH:
            raise RecordError(f"meta: nested deeper than {META_MAX_DEPTH} levels; flatten it")
        return [_clean_meta(v, depth + 1) for v in node]
    if isinstance(node, str):
        return clean_text(node)
    if isinstance(node, float) and not math.isfinite(node):
        return str(node)                                   # NaN is not JSON: MariaDB would refuse the row
    return node


def normalize(raw) -> Record:
    """One wire record (DESIGN section 3) -> Record, or RecordError."""
    if not isinstance(raw, dict):
        raise RecordError("record: expected a JSON object")
    if not KNOWN_FIELDS.issuperset(raw):
        raise RecordError(f"unknown field(s) {sorted(set(raw) - KNOWN_FIELDS)}; put extra data under 'meta'")
    message = raw.get("message")
    if not isinstance(message, str):
        raise RecordError("message: required, a string")
    message = clean_text(message.rstrip("\r\n"))
    if not message.strip():
        raise RecordError("message: empty")
    if len(message) * 4 > MESSAGE_MAX_BYTES and len(message.encode("utf-8")) > MESSAGE_MAX_BYTES:
        raise RecordError(f"message: longer than {MESSAGE_MAX_BYTES} bytes; split it or trim it at the source")
    rec = Record(ts=parse_timestamp(raw.get("timestamp")), host=_name(raw, "host"),
                 service=_name(raw, "service"), level=normalize_level(raw.get("level"), message),
                 message=message)
    for field, limit in _OPTIONAL_STR.items():
        value = raw.get(field)
        if not value:
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise RecordError(f"{field}: expected a string of at most {limit} characters")
        setattr(rec, field, clean_text(value))
    meta = raw.get("meta")
    if meta is not None:
        if not isinstance(meta, dict):
            raise RecordError("meta: expected a JSON object")
        rec.meta = _clean_meta(meta)
        if rec.meta and len(rec.meta_json().encode("utf-8")) > META_MAX_BYTES:
            raise RecordError(f"meta: larger than {META_MAX_BYTES} bytes as JSON; keep the big parts in the message")
    return rec


_DURATION_TEXT = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str):
    """`15m`, `6h`, `2d`, `1w`, `30s` -> timedelta."""
    from datetime import timedelta

    m = _DURATION_TEXT.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a duration such as 15m, 6h or 2d")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
