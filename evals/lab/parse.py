"""Each lab service's real log lines -> ingest records (as POST /ingest/logs takes them).

Pure: text in, records out. A line's own timestamp wins; lines captured from a process's
stdout (`<epoch_us>\\t<line>`, as journald would stamp them) fall back to the capture time.
Lines that continue the previous one (a traceback, MariaDB's "Version:" line, a slow-log
entry's query) are folded into the previous record's message.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

UTC = timezone.utc
ERROR_LEVELS = {"error", "critical", "alert", "emergency"}

_NGINX_ACCESS = re.compile(r'^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "[^"]*" \d{3} ')
_NGINX_TRACE = re.compile(r" trace_id=(?P<trace>[0-9a-f]{32})\s*$")
_NGINX_ERROR = re.compile(r"^(?P<time>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>\w+)\] \d+#\d+: (?P<msg>.*)$")
_NGINX_LEVELS = {"emerg": "emergency", "alert": "alert", "crit": "critical", "error": "error", "warn": "warning",
                 "notice": "notice", "info": "info", "debug": "debug"}
_REDIS = re.compile(r"^\d+:[XCSM] (?P<time>\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) (?P<level>[.\-*#]) (?P<msg>.*)$")
_REDIS_SIGNAL = re.compile(r"^\d+:signal-handler \((?P<epoch>\d+)\) (?P<msg>.*)$")
_REDIS_LEVELS = {".": "debug", "-": "info", "*": "notice", "#": "warning"}
_MARIADB = re.compile(r"^(?P<time>\d{4}-\d{2}-\d{2} +\d{1,2}:\d{2}:\d{2}) \d+ \[(?P<level>\w+)\] (?P<msg>.*)$")
_MARIADB_LEVELS = {"note": "info", "warning": "warning", "error": "error"}
_PYLOG = re.compile(r"^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                    r"(?P<logger>\S+) \[trace_id=(?P<trace>\S+) span_id=(?P<span>\S+)\] (?P<msg>.*)$")
_PINO_LEVELS = {10: "debug", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "critical"}
_LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
_LOGFMT_LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "warning": "warning", "error": "error",
                  "fatal": "critical", "crit": "critical"}
CONT = object()          # "this line continues the previous record"


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _utc(text: str, fmt: str) -> datetime:
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def nginx_access(line: str):
    m = _NGINX_ACCESS.match(line)
    if not m:
        return None
    out = {"ts": datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z"), "level": "info", "message": line}
    t = _NGINX_TRACE.search(line)
    if t:
        out["trace_id"] = t["trace"]
        out["message"] = line[:t.start()]
    return out


def nginx_error(line: str):
    m = _NGINX_ERROR.match(line)
    if not m:
        return None
    return {"ts": _utc(m["time"], "%Y/%m/%d %H:%M:%S"), "level": _NGINX_LEVELS.get(m["level"], "info"),
            "message": m["msg"]}


def redis(line: str):
    m = _REDIS.match(line)
    if not m:
        sig = _REDIS_SIGNAL.match(line)       # written from the signal handler, epoch seconds, a warning
        if sig:
            return {"ts": datetime.fromtimestamp(int(sig["epoch"]), UTC), "level": "warning", "message": sig["msg"]}
        return CONT if line.startswith(" ") else None
    return {"ts": _utc(m["time"], "%d %b %Y %H:%M:%S.%f"), "level": _REDIS_LEVELS[m["level"]], "message": m["msg"]}


def mariadb_error(line: str):
    m = _MARIADB.match(line)
    if not m:
        return CONT
    return {"ts": _utc(re.sub(r" +", " ", m["time"]), "%Y-%m-%d %H:%M:%S"),
            "level": _MARIADB_LEVELS.get(m["level"].lower(), "info"), "message": m["msg"]}


def python_logging(line: str):
    m = _PYLOG.match(line)
    if not m:
        return CONT
    out = {"ts": _utc(m["time"], "%Y-%m-%d %H:%M:%S,%f"), "level": m["level"].lower(), "message": m["msg"],
           "meta": {"logger": m["logger"]}}
    if m["trace"] != "-":
        out["trace_id"] = m["trace"]
    if m["span"] != "-":
        out["span_id"] = m["span"]
    return out


def pino(line: str):
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "msg" not in obj:
        return None
    out = {"level": _PINO_LEVELS.get(obj.get("level"), "info"), "message": str(obj["msg"])}
    if isinstance(obj.get("time"), (int, float)):
        out["ts"] = datetime.fromtimestamp(obj["time"] / 1000, UTC)
    for key in ("trace_id", "span_id"):
        if obj.get(key):
            out[key] = str(obj[key])
    meta = {k: v for k, v in obj.items() if k not in {"level", "time", "msg", "trace_id", "span_id", "hostname", "name"}}
    if meta:
        out["meta"] = meta
    return out


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def logfmt(line: str):
    fields = {k: _unquote(v) for k, v in _LOGFMT.findall(line)}
    if "msg" not in fields or "time" not in fields:
        return None
    try:
        ts = datetime.fromisoformat(fields.pop("time").replace("Z", "+00:00"))
    except ValueError:
        return None
    out = {"ts": ts, "level": _LOGFMT_LEVELS.get(fields.pop("level", "info").lower(), "info"),
           "message": fields.pop("msg")}
    if fields.get("trace_id"):
        out["trace_id"] = fields.pop("trace_id")
    fields.pop("trace_id", None)
    if fields:
        out["meta"] = fields
    return out


PARSERS = {"nginx_access": nginx_access, "nginx_error": nginx_error, "redis": redis, "mariadb_error": mariadb_error,
           "python_logging": python_logging, "pino": pino, "logfmt": logfmt}


def records(text: str, kind: str, host: str, service: str, captured: bool = False) -> list[dict]:
    """All records of one file. `captured`: each line is `<epoch_us>\\t<line>` (a process's stdout)."""
    parser = PARSERS[kind]
    out: list[dict] = []
    for raw in text.splitlines():
        stamp = None
        if captured:
            head, sep, raw = raw.partition("\t")
            if not sep:
                continue
            stamp = datetime.fromtimestamp(int(head) / 1e6, UTC)
        if not raw.strip():
            continue
        parsed = parser(raw)
        if parsed is CONT and out:
            out[-1]["message"] += "\n" + raw
            continue
        if parsed is None or parsed is CONT:
            parsed = {"level": "info", "message": raw}
        ts = parsed.pop("ts", None) or stamp or (out[-1]["_ts"] if out else None)
        if ts is None:
            continue
        rec = {"timestamp": iso(ts), "host": host, "service": service, "level": parsed["level"],
               "message": parsed["message"]}
        for key in ("trace_id", "span_id", "meta"):
            if key in parsed:
                rec[key] = parsed[key]
        rec["_ts"] = ts
        out.append(rec)
    return out


def mariadb_slow(text: str, host: str, service: str) -> list[dict]:
    """The slow query log: one record per entry (its own lines, less `# Time:` and `SET timestamp`)."""
    out: list[dict] = []
    entry: list[str] = []
    stamp = None

    def flush():
        if entry and stamp is not None:
            out.append({"timestamp": iso(stamp), "host": host, "service": service, "level": "info",
                        "message": "\n".join(entry), "_ts": stamp})

    for line in text.splitlines():
        if line.startswith("# Time:"):
            continue
        if line.startswith("# User@Host:"):
            flush()
            entry, stamp = [line], None
            continue
        if not entry:
            continue                  # the file's header (server version, port, columns)
        m = re.match(r"SET timestamp=(\d+);", line)
        if m:
            stamp = datetime.fromtimestamp(int(m.group(1)), UTC)
            continue
        if line.startswith("/") and "started with:" in line:
            flush()
            entry, stamp = [], None
            continue
        entry.append(line)
    flush()
    return out


def strip_private(recs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "_ts"} for r in recs]
