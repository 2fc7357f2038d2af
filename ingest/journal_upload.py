"""POST /upload: systemd's own uploader (`systemd-journal-upload`) sends its journal here.

The body is the journal export format (Content-Type application/vnd.fdo.journal, usually
chunked and long: the uploader streams until it has sent everything): entries separated by
an empty line, each field `KEY=value\\n`, or `KEY\\n` + little-endian 64-bit length + bytes +
`\\n` when the value may hold a newline or binary. It is parsed as it arrives (memory stays
bounded by one field, one entry and one batch whatever the client sends) and fields map
to records exactly as our shipper maps them (shipper/journal.to_record), so a line sent by
both is stored once.

Answers as systemd-journal-remote does: 202 "OK." once every entry is committed (the
uploader advances its saved cursor only on success); 503 with Retry-After while MariaDB is
down (it keeps its cursor and sends again; duplicates are dropped by log_hash); 400 on a
body that is not the export format (what came before the bad entry is stored).

The uploader sends no Authorization header: with DEVMESH_API_TOKENS set, give it the token
in the URL, `--url=http://devmesh:8000/journal/TOKEN` (it POSTs to .../journal/TOKEN/upload),
over TLS or a trusted network, since a URL lands in proxies' logs.
"""
from __future__ import annotations

import logging
import struct

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from db.pool import DatabaseUnavailable
from ingest.normalize import RecordError

router = APIRouter(tags=["ingest"])
log = logging.getLogger(__name__)

MAX_FIELD_BYTES = 8 * 1024 * 1024        # one value (journald's own ceiling for a field is 64 MiB; ours is 8)
MAX_ENTRY_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024               # a field name line, or KEY=value of a text field
BATCH = 1000


class ExportFormatError(ValueError):
    """The body is not the journal export format; the message says where."""


class ExportParser:
    """Incremental: `feed(chunk)` returns the entries completed by it, `close()` the last one."""

    def __init__(self):
        self._buf = bytearray()
        self._entry: dict[str, bytes] = {}
        self._size = 0
        self._binary_key: str | None = None
        self.entries = 0

    def feed(self, chunk: bytes) -> list[dict[str, bytes]]:
        self._buf += chunk
        out: list[dict[str, bytes]] = []
        while True:
            if self._binary_key is not None:
                if len(self._buf) < 8:
                    break
                (length,) = struct.unpack_from("<Q", self._buf)
                if length > MAX_FIELD_BYTES:
                    raise ExportFormatError(f"entry {self.entries + 1}: field {self._binary_key} is {length} bytes,"
                                            f" over {MAX_FIELD_BYTES}")
                if len(self._buf) < 8 + length + 1:
                    break
                if self._buf[8 + length] != 0x0A:
                    raise ExportFormatError(f"entry {self.entries + 1}: binary field {self._binary_key} does not end"
                                            " with a newline after its length")
                self._add(self._binary_key, bytes(self._buf[8:8 + length]))
                del self._buf[:8 + length + 1]
                self._binary_key = None
                continue
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > MAX_LINE_BYTES:
                    raise ExportFormatError(f"entry {self.entries + 1}: a field line longer than {MAX_LINE_BYTES}"
                                            " bytes (long values use the binary form)")
                break
            line = bytes(self._buf[:end])
            del self._buf[:end + 1]
            if not line:
                if self._entry:
                    out.append(self._finish())
                continue
            key, eq, value = line.partition(b"=")
            name = self._key(key)
            if eq:
                self._add(name, value)
            else:
                self._binary_key = name
        return out

    def close(self) -> list[dict[str, bytes]]:
        """End of body: an entry not followed by an empty line still counts when whole."""
        if self._binary_key is not None or self._buf.strip():
            raise ExportFormatError(f"entry {self.entries + 1}: the body ends inside a field")
        return [self._finish()] if self._entry else []

    def _key(self, raw: bytes) -> str:
        try:
            name = raw.decode("ascii")
        except UnicodeDecodeError:
            name = ""
        if not name or not all(c.isupper() or c.isdigit() or c == "_" for c in name):
            raise ExportFormatError(f"entry {self.entries + 1}: {raw[:40]!r} is not a journal field name"
                                    " (A-Z, 0-9, _)")
        return name

    def _add(self, key: str, value: bytes) -> None:
        self._size += len(value)
        if self._size > MAX_ENTRY_BYTES:
            raise ExportFormatError(f"entry {self.entries + 1} is over {MAX_ENTRY_BYTES} bytes")
        self._entry.setdefault(key, value)          # a repeated field: the first value, as journalctl -o json's first

    def _finish(self) -> dict[str, bytes]:
        entry, self._entry, self._size = self._entry, {}, 0
        self.entries += 1
        return entry


def to_records(entries: list[dict[str, bytes]]) -> tuple[list, list[str]]:
    """Entries -> wire records (the shipper's mapping); entries that cannot map, with why."""
    from shipper.journal import to_record

    records, errors = [], []
    for entry in entries:
        try:
            records.append(to_record(entry))
        except (KeyError, ValueError) as exc:
            errors.append(f"an entry without a usable __REALTIME_TIMESTAMP ({exc})")
    return records, errors


def _plain(status: int, text: str, **headers) -> PlainTextResponse:
    return PlainTextResponse(text + "\n", status_code=status, headers=headers)


async def receive(request: Request) -> PlainTextResponse:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind != "application/vnd.fdo.journal":
        return _plain(415, f"Content-Type {kind[:60]} is not application/vnd.fdo.journal (the journal export "
                           "format, as systemd-journal-upload sends it)")
    ingestor = request.app.state.ingestor
    parser = ExportParser()
    metrics = request.app.state.metrics
    pending: list = []
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}

    async def flush() -> None:
        batch = pending[:]
        pending.clear()
        if batch:
            result = await run_in_threadpool(ingestor.ingest, batch)
            request.app.state.metrics.ingested("journal-upload", result)
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["rejected"] += len(result.rejected)

    try:
        async for chunk in request.stream():
            records, errors = to_records(parser.feed(chunk))
            totals["rejected"] += len(errors)
            if errors:
                metrics.rejected("journal entry without a timestamp", len(errors))
            pending.extend(records)
            if len(pending) >= BATCH:
                await flush()
        records, errors = to_records(parser.close())
        totals["rejected"] += len(errors)
        pending.extend(records)
        await flush()
    except ExportFormatError as exc:
        await flush()
        return _plain(400, f"{exc}; send the journal export format (journalctl -o export)")
    except (DatabaseUnavailable, RecordError) as exc:
        if isinstance(exc, RecordError):
            return _plain(400, str(exc))
        return _plain(503, "MariaDB is unavailable; nothing after the last committed batch was stored, "
                           "send again", **{"Retry-After": "5"})
    log.info("journal upload: %d entries, %s", parser.entries, totals)
    return _plain(202, "OK.")


@router.post("/upload", summary="systemd-journal-upload's journal export stream")
async def upload(request: Request):
    return await receive(request)


@router.post("/journal/{token}/upload", summary="the same, with the token in the URL (the uploader sends no header)")
async def upload_with_token(request: Request, token: str):
    return await receive(request)
