"""File formats for `devmesh import`: wire JSON lines, `journalctl -o json`, syslog lines.

Each parser turns one line into a wire record (DESIGN section 3) or raises RecordError.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from ingest.normalize import RecordError

_RFC3164 = re.compile(r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) "
                      r"(?P<host>\S+) (?P<tag>[^\s:\[]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$")
_RFC5424 = re.compile(r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) "
                      r"(?P<msgid>\S+) (?P<sd>-|(?:\[.*?\])+) ?(?P<msg>.*)$")
_JOURNAL_META = ("_PID", "_COMM", "MESSAGE_ID", "_BOOT_ID", "__CURSOR", "_TRANSPORT", "SYSLOG_PID")


def from_journal(entry: dict) -> dict:
    """One `journalctl -o json` object -> wire record."""
    message = entry.get("MESSAGE")
    if isinstance(message, list):                  # journalctl writes binary data as byte arrays
        message = bytes(message).decode("utf-8", "replace")
    unit = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM")
    record = {"timestamp": int(entry["__REALTIME_TIMESTAMP"]) if "__REALTIME_TIMESTAMP" in entry else None,
              "host": entry.get("_HOSTNAME"), "service": unit, "message": message, "source": "journald",
              "meta": {k: entry[k] for k in _JOURNAL_META if k in entry}}
    if "PRIORITY" in entry:
        record["level"] = str(entry["PRIORITY"])
    return record


def from_syslog(line: str, default_host: str | None, now: datetime | None = None) -> dict:
    """RFC 5424 or RFC 3164 (BSD) syslog -> wire record. BSD dates carry no year: the
    current one, or the previous when that would put the line in the future."""
    m = _RFC5424.match(line)
    if m:
        record = {"timestamp": m["ts"], "host": m["host"] if m["host"] != "-" else default_host,
                  "service": m["app"] if m["app"] != "-" else None, "source": "syslog",
                  "message": m["msg"].lstrip()}   # rsyslog's %msg% of a BSD line keeps the space after "tag:"
        record["level"] = str(int(m["pri"]) % 8)
        return record
    m = _RFC3164.match(line)
    if not m:
        raise RecordError("not a JSON object nor a syslog line (RFC 3164 'Mon DD HH:MM:SS host tag: msg' "
                          "or RFC 5424)")
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    ts = datetime.strptime(f"{now.year} {m['ts']}", "%Y %b %d %H:%M:%S")
    if ts > now:
        ts = ts.replace(year=now.year - 1)
    record = {"timestamp": ts.isoformat() + "Z", "host": m["host"] or default_host, "service": m["tag"],
              "message": m["msg"], "source": "syslog"}
    if m["pri"]:
        record["level"] = str(int(m["pri"]) % 8)
    if m["pid"]:
        record["meta"] = {"pid": int(m["pid"])}
    return record


def parse_line(line: str, default_host: str | None = None, default_service: str | None = None) -> dict:
    """Any supported line -> wire record (defaults fill a missing host/service)."""
    text = line.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"invalid JSON: {exc}") from None
        record = from_journal(obj) if "__REALTIME_TIMESTAMP" in obj or "MESSAGE" in obj else obj
    else:
        record = from_syslog(text, default_host)
    if isinstance(record, dict):
        if not record.get("host") and default_host:
            record["host"] = default_host
        if not record.get("service") and default_service:
            record["service"] = default_service
    return record
