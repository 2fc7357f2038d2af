"""A syslog listener for what has no journald (routers, NAS boxes, appliances), off by default.

`DEVMESH_SYSLOG_LISTEN=127.0.0.1:5514` opens TCP and UDP on that address. TCP frames are
octet-counted (`LEN SP MSG`) or newline-terminated (RFC 6587), told apart per frame by its
first byte; each message is RFC 5424 or RFC 3164 (ingest/formats.from_syslog) and goes
through the one ingest pipeline in batches.

Nothing is dropped silently: a message that does not parse is counted and logged with its
reason; while MariaDB is down the batch is retried with backoff and TCP senders are paused
(their own queues hold the rest: rsyslog's action queue, logger's socket) once `max_pending`
messages wait; UDP has no flow control, so datagrams that arrive while `max_pending` wait
are counted as dropped (`/metrics`, the log). Memory stays bounded: one frame per
connection (`max_message_bytes`), `max_pending` messages.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pydantic_settings import BaseSettings, SettingsConfigDict

from db.pool import DatabaseUnavailable
from ingest.formats import from_syslog
from ingest.normalize import RecordError

log = logging.getLogger(__name__)


class SyslogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_SYSLOG_")

    listen: str = ""                   # host:port for TCP and UDP; empty = off
    max_message_bytes: int = 64 * 1024
    max_pending: int = 20_000          # messages waiting for the database
    batch: int = 500
    flush_s: float = 0.2


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"DEVMESH_SYSLOG_LISTEN={value!r}: expected host:port, e.g. 127.0.0.1:5514")
    return host.strip("[]") or "0.0.0.0", int(port)


class FrameError(ValueError):
    pass


class Framer:
    """RFC 6587 framing of one TCP stream: octet counting or a trailing LF, frame by frame."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while self._buf:
            if self._buf[:1].isdigit():
                space = self._buf.find(b" ", 0, 12)
                if space < 0:
                    if len(self._buf) >= 12:
                        raise FrameError("an octet count longer than 10 digits")
                    break
                count = self._buf[:space]
                if not count.isdigit():
                    raise FrameError(f"octet count {bytes(count)[:12]!r} is not a number")
                length = int(count)
                if length > self.max_bytes:
                    raise FrameError(f"a {length}-byte message, over DEVMESH_SYSLOG_MAX_MESSAGE_BYTES={self.max_bytes}")
                if len(self._buf) < space + 1 + length:
                    break
                out.append(bytes(self._buf[space + 1:space + 1 + length]))
                del self._buf[:space + 1 + length]
            else:
                end = self._buf.find(b"\n")
                if end < 0:
                    if len(self._buf) > self.max_bytes:
                        raise FrameError(f"a line over DEVMESH_SYSLOG_MAX_MESSAGE_BYTES={self.max_bytes} bytes")
                    break
                out.append(bytes(self._buf[:end]))
                del self._buf[:end + 1]
        return [f for f in (x.rstrip(b"\r\n\x00") for x in out) if f.strip()]


def to_record(message: bytes, peer: str) -> dict:
    text = message.decode("utf-8", "replace").replace("\ufeff", "")
    return from_syslog(text, default_host=peer)


@dataclass
class SyslogStats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped: int = 0
    errors: dict = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        key = reason[:120]
        if key not in self.errors and len(self.errors) < 50:
            self.errors[key] = 0
            log.warning("syslog message rejected: %s", key)
        if key in self.errors:
            self.errors[key] += 1


class SyslogListener:
    """TCP + UDP servers on one address, feeding `ingest(records)` (the Ingestor, off-loop)."""

    def __init__(self, settings: SyslogSettings, ingest, on_result=None):
        self.settings = settings
        self.ingest = ingest
        self.on_result = on_result          # e.g. Metrics.ingested("syslog", result)
        self.stats = SyslogStats()
        self._pending: list[dict] = []
        self._paused: set[asyncio.Transport] = set()
        self._servers: list = []
        self._flusher: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        host, port = parse_listen(self.settings.listen)
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_server(lambda: _TcpProtocol(self), host, port))
        transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), local_addr=(host, port))
        self._servers.append(transport)
        self._flusher = asyncio.create_task(self._flush_loop())
        log.info("syslog listening on %s:%d (TCP and UDP)", host, port)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        if self._flusher is not None:
            self._flusher.cancel()
        self._servers.clear()

    def take(self, message: bytes, peer: str, transport=None) -> None:
        self.stats.received += 1
        if transport is None and len(self._pending) >= self.settings.max_pending:
            self.stats.dropped += 1                 # UDP: no way to make the sender wait
            if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                log.warning("syslog: %d UDP messages dropped while the database is behind", self.stats.dropped)
            return
        try:
            self._pending.append(to_record(message, peer))
        except RecordError as exc:
            self.stats.reject(str(exc))
            return
        if transport is not None and len(self._pending) >= self.settings.max_pending:
            transport.pause_reading()
            self._paused.add(transport)
        if len(self._pending) >= self.settings.batch:
            self._wake.set()

    async def _flush_loop(self) -> None:
        from starlette.concurrency import run_in_threadpool

        delay = 0.5
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.flush_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            while self._pending:
                batch = self._pending[:self.settings.batch]
                try:
                    result = await run_in_threadpool(self.ingest, batch)
                except DatabaseUnavailable as exc:
                    log.warning("syslog: %s; retrying in %.1f s (%d messages wait)", exc, delay, len(self._pending))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                delay = 0.5
                del self._pending[:len(batch)]
                if self.on_result is not None:
                    self.on_result(result)
                self.stats.accepted += result.accepted
                self.stats.duplicates += result.duplicates
                for rejected in result.rejected:
                    self.stats.reject(rejected["error"])
                if len(self._pending) < self.settings.max_pending // 2:
                    for transport in list(self._paused):
                        if not transport.is_closing():
                            transport.resume_reading()
                    self._paused.clear()


class _TcpProtocol(asyncio.Protocol):
    def __init__(self, listener: SyslogListener):
        self.listener = listener
        self.framer = Framer(listener.settings.max_message_bytes)
        self.transport = None
        self.peer = "unknown"

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "unknown"

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except FrameError as exc:
            self.listener.stats.reject(f"{exc}; connection from {self.peer} closed")
            self.transport.close()
            return
        for frame in frames:
            self.listener.take(frame, self.peer, self.transport)

    def connection_lost(self, exc) -> None:
        self.listener._paused.discard(self.transport)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: SyslogListener):
        self.listener = listener

    def datagram_received(self, data: bytes, addr) -> None:
        message = data.rstrip(b"\r\n\x00")
        if len(message) > self.listener.settings.max_message_bytes:
            self.listener.stats.reject(f"a {len(message)}-byte datagram, over DEVMESH_SYSLOG_MAX_MESSAGE_BYTES")
            return
        if message.strip():
            self.listener.take(message, addr[0] if addr else "unknown")


async def start(settings: SyslogSettings, ingestor, metrics) -> SyslogListener | None:
    """The server's listener when DEVMESH_SYSLOG_LISTEN is set (else None), its outcomes in /metrics."""
    if not settings.listen:
        return None
    listener = SyslogListener(settings, ingestor.ingest, lambda result: metrics.ingested("syslog", result))
    await listener.start()
    metrics.gauges({"devmesh_syslog_messages": (
        "Syslog messages by outcome", lambda: {(("outcome", k),): getattr(listener.stats, k)
                                               for k in ("received", "accepted", "duplicates", "rejected", "dropped")})})
    return listener
