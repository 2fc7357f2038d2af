"""Reading journald: the local journal, a directory, or files; entries -> ingest records."""
from __future__ import annotations

import socket
import uuid
from pathlib import Path

from systemd import journal

META_FIELDS = {"_PID": "pid", "_COMM": "comm", "MESSAGE_ID": "message_id", "_BOOT_ID": "boot_id",
               "__CURSOR": "cursor"}


def _first(value):
    return value[0] if isinstance(value, list) else value


def _text(value) -> str:
    value = _first(value)
    if isinstance(value, bytes):                    # not valid UTF-8: keep what can be read
        return value.decode("utf-8", "replace")
    if isinstance(value, uuid.UUID):
        return value.hex
    return "" if value is None else str(value)


def to_record(entry: dict, host_name: str | None = None) -> dict:
    """Journal fields -> the ingest wire record (DESIGN section 3)."""
    service = _text(entry.get("_SYSTEMD_UNIT")) or _text(entry.get("SYSLOG_IDENTIFIER")) \
        or _text(entry.get("_COMM")) or "unknown"
    record = {
        "timestamp": int(_first(entry["__REALTIME_TIMESTAMP"])),          # microseconds since epoch
        "host": host_name or _text(entry.get("_HOSTNAME")) or socket.gethostname(),
        "service": service,
        "message": _text(entry.get("MESSAGE")),
        "source": "journald",
        "meta": {key: _text(entry[field]) if field != "_PID" else int(_first(entry[field]))
                 for field, key in META_FIELDS.items() if field in entry},
    }
    priority = _first(entry.get("PRIORITY"))
    if priority is not None:
        record["level"] = int(priority)
    identifier = _text(entry.get("SYSLOG_IDENTIFIER"))
    if identifier and identifier != service:
        record["meta"]["identifier"] = identifier
    return record


class JournalSource:
    """Entries in order, resuming after a cursor; the entry at the cursor is not read again."""

    def __init__(self, files: list[Path] | None = None, directory: Path | None = None):
        converters = {"__REALTIME_TIMESTAMP": int}       # raw microseconds, no local-time datetime
        if files:
            self.reader = journal.Reader(files=[str(f) for f in files], converters=converters)
        elif directory:
            self.reader = journal.Reader(path=str(directory), converters=converters)
        else:
            self.reader = journal.Reader(converters=converters)

    def start(self, cursor: str | None) -> None:
        if cursor is None:
            self.reader.seek_head()
            return
        try:
            self.reader.seek_cursor(cursor)
        except (OSError, ValueError):
            self.reader.seek_head()                     # a cursor from another journal: start over
            return
        entry = self.reader.get_next()
        if entry and entry.get("__CURSOR") != cursor:   # the cursor's entry is gone: keep this one
            self.reader.get_previous()

    def next(self) -> dict | None:
        return self.reader.get_next() or None

    def wait(self, timeout_s: float) -> None:
        self.reader.wait(timeout_s)

    def close(self) -> None:
        self.reader.close()
