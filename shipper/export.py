"""Write real journal files without journald: the journal export format piped through
`systemd-journal-remote` (Debian package systemd-journal-remote). For tests, benchmarks
and replaying saved logs."""
from __future__ import annotations

import shutil
import struct
import subprocess
import uuid
from pathlib import Path

_CANDIDATES = ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")


def journal_remote() -> str:
    for path in _CANDIDATES:
        if Path(path).exists():
            return path
    found = shutil.which("systemd-journal-remote")
    if found:
        return found
    raise FileNotFoundError("systemd-journal-remote not found: apt-get install systemd-journal-remote")


def _field(key: str, value) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    if b"\n" in data:                          # binary-safe form: KEY\n<le64 length><bytes>\n
        return key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return key.encode() + b"=" + data + b"\n"


def export_format(entries: list[dict], boot_id: str | None = None) -> bytes:
    """Entries (field -> value; `__REALTIME_TIMESTAMP` in microseconds) -> export format.
    Every entry gets the `_BOOT_ID` and `__MONOTONIC_TIMESTAMP` journal-remote requires."""
    boot = boot_id or uuid.uuid4().hex
    out = bytearray()
    for n, entry in enumerate(entries):
        fields = {"_BOOT_ID": boot, "__MONOTONIC_TIMESTAMP": 1_000_000 + n, **entry}
        if "__REALTIME_TIMESTAMP" not in fields:
            raise ValueError(f"entry {n} has no __REALTIME_TIMESTAMP; journal-remote would drop it")
        for key, value in fields.items():
            out += _field(key, value)
        out += b"\n"
    return bytes(out)


def write_journal(path: Path, entries: list[dict], boot_id: str | None = None) -> Path:
    """Create (or append to) a journal file; the name must end in `.journal`."""
    if path.suffix != ".journal":
        raise ValueError(f"{path}: journal-remote only writes files named *.journal")
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([journal_remote(), f"--output={path}", "-"], input=export_format(entries, boot_id),
                          capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"systemd-journal-remote failed: {proc.stderr.decode(errors='replace')[-500:]}")
    return path
