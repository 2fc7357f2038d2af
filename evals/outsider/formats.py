"""Real line formats of the mesh's runtimes: Spring Boot logback (Sleuth / Micrometer),
Go zap JSON and logrus logfmt, Node pino, Python structlog + gunicorn access."""
from __future__ import annotations

import json

from evals.outsider.common import dt

JLEVEL = {"debug": "DEBUG", "info": "INFO", "warning": "WARN", "error": "ERROR"}
PINO = {"debug": 20, "info": 30, "warning": 40, "error": 50}
ZAP = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}


def abbreviate(logger: str, width: int = 39) -> str:
    """logback's %logger{39}: shorten packages to their initial, left to right, class kept."""
    parts = logger.split(".")
    i = 0
    while len(".".join(parts)) > width and i < len(parts) - 1:
        parts[i] = parts[i][0]
        i += 1
    return ".".join(parts)


def java_line(fmt: str, app: str, pid: int, ms: float, level: str, thread: str, logger: str, msg: str,
              trace: str | None, span: str | None) -> str:
    d = dt(ms)
    lg = abbreviate(logger)
    th = thread[-15:]
    if fmt == "boot3":
        stamp = d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
        corr = f"[{trace}-{span}] " if trace else "[" + " " * 49 + "] "
        return f"{stamp} {JLEVEL[level]:>5} {pid} --- [{app}] [{th:>15}] {corr}{lg:<40} : {msg}"
    stamp = d.strftime("%Y-%m-%d %H:%M:%S.") + f"{d.microsecond // 1000:03d}"
    return (f"{stamp} {JLEVEL[level]:>5} [{app},{trace or ''},{span or ''}] {pid} --- "
            f"[{th:>15}] {lg:<40} : {msg}")


def zap_line(iso_ts: bool, ms: float, level: str, caller: str, msg: str, fields: dict,
             trace: str | None, span: str | None, stack: str | None = None) -> str:
    rec: dict = {"level": ZAP[level]}
    if iso_ts:
        d = dt(ms)
        rec["ts"] = d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    else:
        rec["ts"] = round(ms / 1000.0, 6)
    rec["caller"] = caller
    rec["msg"] = msg
    if trace:
        rec["trace_id"] = trace
        rec["span_id"] = span
    rec.update(fields)
    if stack:
        rec["stacktrace"] = stack
    return json.dumps(rec, separators=(",", ":"))


def _lf(v) -> str:
    s = str(v)
    return f'"{s}"' if (" " in s or '"' in s or "=" in s or s == "") else s


def logfmt_line(ms: float, level: str, msg: str, fields: dict, trace: str | None, span: str | None) -> str:
    d = dt(ms)
    out = [f'time="{d.strftime("%Y-%m-%dT%H:%M:%S")}Z"', f"level={ZAP[level] if level != 'warning' else 'warning'}",
           f"msg={_lf(msg)}"]
    if trace:
        out += [f"trace_id={trace}", f"span_id={span}"]
    out += [f"{k}={_lf(v)}" for k, v in fields.items()]
    return " ".join(out)


def pino_line(ms: float, level: str, pid: int, hostname: str, name: str, msg: str, fields: dict,
              trace: str | None, span: str | None) -> str:
    rec: dict = {"level": PINO[level], "time": int(ms), "pid": pid, "hostname": hostname, "name": name}
    if trace:
        rec["trace_id"] = trace
        rec["span_id"] = span
        rec["trace_flags"] = "01"
    rec.update(fields)
    rec["msg"] = msg
    return json.dumps(rec, separators=(",", ":"))


def structlog_line(ms: float, level: str, logger: str, event: str, fields: dict,
                   trace: str | None, span: str | None, exc: str | None = None) -> str:
    d = dt(ms)
    rec: dict = {"event": event}
    rec.update(fields)
    if trace:
        rec["trace_id"] = trace
        rec["span_id"] = span
    if exc:
        rec["exception"] = exc
    rec["logger"] = logger
    rec["level"] = level if level != "warning" else "warning"
    rec["timestamp"] = d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(rec, separators=(", ", ": "))


def clf_time(ms: float) -> str:
    return dt(ms).strftime("%d/%b/%Y:%H:%M:%S +0000")
