"""The parameters an exception ran with, pulled from the log lines around it: `key=value`
pairs, the scalar fields of a JSON object in a line, and URL paths (after an HTTP method,
or the value of a path/url/uri/route key), each masked as the LLM path masks
(agents.planner.Masker: e-mails, bearer tokens, password=..., AWS keys and
DEVMESH_LLM_MASK_PATTERNS) and card-like digit runs. Pure: lines in, a list out."""
from __future__ import annotations

import json
import re

from agents.planner import Masker

_KV = re.compile(r"(?<![\w.\-/])([A-Za-z_][\w.\-]{0,40})=(\"[^\"]{0,200}\"|'[^']{0,200}'|[^\s,;&]{1,200})")
_METHOD_PATH = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(/[^\s?\"']{0,200})")
_PATH_KEYS = {"path", "url", "uri", "route", "endpoint", "request_path"}
_DIGITS = re.compile(r"\b\d{12,19}\b")                     # card and account numbers
MAX_PARAMS = 30


def _json_fields(message: str) -> dict:
    start = message.find("{")
    if start < 0:
        return {}
    try:
        found, _ = json.JSONDecoder().raw_decode(message, start)
    except json.JSONDecodeError:
        return {}
    return {k: v for k, v in found.items() if isinstance(v, (str, int, float, bool))} if isinstance(found, dict) else {}


def extract(lines: list[dict], exception_text: str = "", mask: tuple[str, ...] = ()) -> list[dict]:
    """[{name, value, source: kv|json|url, event_id, in_exception}] from `lines` ({id, message}),
    values masked; those whose value the exception's own text repeats come first."""
    masker = Masker(mask)
    seen: dict[tuple[str, str], dict] = {}

    def add(name: str, value, source: str, event_id):
        raw = str(value).strip("\"'")
        masked = _DIGITS.sub("[REDACTED]", masker(f"{name}={raw}")).split("=", 1)[1]
        key = (name, masked)
        if key not in seen and len(seen) < MAX_PARAMS:
            seen[key] = {"name": name, "value": masked, "source": source, "event_id": event_id,
                         "in_exception": bool(raw) and len(raw) >= 2 and raw in exception_text}

    for line in lines:
        message, event_id = line.get("message") or "", line.get("id")
        for name, value in _KV.findall(message):
            add(name, value, "kv", event_id)
            if name.lower() in _PATH_KEYS and value.startswith("/"):
                add("url_path", value.split("?", 1)[0], "url", event_id)
        for name, value in _json_fields(message).items():
            add(str(name)[:40], value, "json", event_id)
        for path in _METHOD_PATH.findall(message):
            add("url_path", path, "url", event_id)
    return sorted(seen.values(), key=lambda p: not p["in_exception"])
