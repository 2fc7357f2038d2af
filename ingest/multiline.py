"""Multi-line events: the continuation lines of a stack trace, delivered one record each by
journald, Loki or a file, joined into one event per exception.

Records join when they come from the same stream (host, service, source and meta `stream`),
in arrival order, no more than `gap_s` apart by their timestamps, and the new line has a
trace's shape given what the group holds so far: Python (`Traceback ...`, indented `File`
and code lines, the exception line, "During handling ..." chains), JVM (`\\tat`, `Caused by:`,
`... N more`), .NET (`   at ... in f.cs:line N`, `--->`), Node (`    at f (file.js:1:2)`)
and Go (`panic:`, `goroutine N [...]:`, `pkg.f(...)` + `\\tfile.go:N +0x..`). Anything else
starts a new event, so a plain line is never swallowed.

Nothing is lost: a joined event keeps every line, the first line's time and fields, and the
highest level of its lines. A trace longer than `max_lines` (or `max_bytes`) keeps its head
and its tail (where Python prints the exception) around one marker line that says how many
lines were left out; nothing outside that trace is dropped. A trace still open at the end of
a batch is held (bounded: `max_pending` streams, the oldest flushed first) for the next
batch of its stream, and written when that batch closes it, when `hold_s` passes (the next
batch or `flush`), or at shutdown. A line arriving after its trace was flushed is its own event.
"""
from __future__ import annotations

import copy
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace

from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.normalize import LEVEL_RANK, MESSAGE_MAX_BYTES, Record


class JoinSettings(BaseSettings):
    """How stack-trace lines are joined at ingest."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_MULTILINE_")

    enabled: bool = True
    gap_s: float = 2.0               # record time between two lines of one trace
    hold_s: float = 5.0              # how long a trace open at a batch's end waits for its next line
    max_lines: int = 1000            # head + tail kept of one trace
    max_bytes: int = 60_000          # below log_events.message's 64 KB
    max_pending: int = 1000          # streams with a held trace


_STRONG = re.compile(r"^(?:\s+at \S|\s+File \"|\s*\.\.\. \d+ (?:more|common frames omitted)|Caused by: |"
                     r"\s+Suppressed: |\s*--- End of |\s*---> |\t\S+\.go:\d+)")
_STARTS = (" ", "\t", "Traceback", "panic: ", "fatal error: ", "goroutine ")
_PY_HEADER = re.compile(r"^\s*(?:\+ Exception Group )?Traceback \(most recent call last\):\s*$")
_PY_GROUP_END = re.compile(r"^\s*\+-+\s*$")                 # an exception group's last rule
_PY_CHAIN = ("During handling of the above exception, another exception occurred:",
             "The above exception was the direct cause of the following exception:")
_PY_EXC = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")
_GO_START = re.compile(r"^(?:panic: |fatal error: |goroutine \d+ \[[^\]]*\]:\s*$)")
_GO_LINE = re.compile(r"^(?:goroutine \d+ \[[^\]]*\]:|\[signal |created by |[\w./*()\[\]~-]+\(.*\)$|\t\S+\.go:\d+)")


@dataclass
class _Group:
    key: tuple
    first: Record
    index: int                          # the first line's position in its request (-1: an earlier request)
    kind: str                           # plain | python | go | frames
    state: str = ""                     # python: frames | done | chain
    head: list[str] = field(default_factory=list)
    head_bytes: int = 0
    tail: deque = field(default_factory=deque)
    dropped: int = 0
    lines: int = 0
    carried: int = 0                    # lines that came in earlier requests
    level: str = "info"
    trace_id: str | None = None
    span_id: str | None = None
    last_ts: object = None
    held_at: float = 0.0


@dataclass
class Joined:
    """One event out of the joiner: the record, its index, and how many of this request's
    lines it holds (lines of earlier requests were counted there)."""

    index: int
    record: Record
    lines: int
    fresh: int


class Joiner:
    """Joins one request's records; holds the traces still open for the next request."""

    def __init__(self, settings: JoinSettings | None = None):
        self.settings = settings or JoinSettings()
        self._pending: OrderedDict[tuple, _Group] = OrderedDict()
        self._lock = threading.Lock()

    def pending(self) -> int:
        return len(self._pending)

    def snapshot(self) -> dict:
        """The held traces as they are (copies), to put back when a request's write fails."""
        with self._lock:
            return copy.deepcopy(dict(self._pending)) if self._pending else {}

    def restore(self, before: dict, keys: set[tuple]) -> None:
        """After a failed write (nothing of the request stored; its client sends it again):
        the held traces as they were before it, and none it started (`keys`: its streams)."""
        with self._lock:
            for key in keys - before.keys():
                self._pending.pop(key, None)
            self._pending.update(before)

    def join(self, items: list[tuple[int, Record]], hold: bool = True, now: float | None = None) -> tuple[list[Joined], int]:
        """(events in order of their first line, lines held for the next request). `items`:
        (index in the request, record). hold=False flushes everything (a pure, one-shot join)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            open_: dict[tuple, _Group] = {}
            for key, group in list(self._pending.items()):
                group.carried, group.index = group.lines, -1
                open_[key] = group
            self._pending.clear()
            out: list = []                                 # _Group, or (index, record) for a lone plain line
            for index, record in items:
                key = stream_key(record)
                prev = open_.get(key)
                if prev is not None:
                    if type(prev) is tuple:                # most lines: a plain line nothing followed yet
                        if self._frame_follows(prev[1], record):
                            group = self._start(key, prev[0], prev[1])
                            group.kind = "frames"
                            group.state = "props" if record.message.endswith(" {") else ""
                            self._add(group, record)
                            open_[key] = group
                            continue
                        out.append(prev)
                    elif self._continues(prev, record):
                        self._add(prev, record)
                        continue
                    else:
                        out.append(prev)
                text = record.message
                if text.startswith(_STARTS) and (_PY_HEADER.match(text) or _GO_START.match(text)):
                    open_[key] = self._start(key, index, record)
                else:
                    open_[key] = (index, record)
            held = 0
            for key, group in open_.items():
                if type(group) is tuple:
                    out.append(group)
                    continue
                if group.lines > group.carried:
                    group.held_at = now                    # it grew: its wait starts again
                if hold and self.settings.enabled and _may_continue(group) and now - group.held_at < self.settings.hold_s:
                    self._pending[key] = group
                    held += group.lines - group.carried
                else:
                    out.append(group)
            while len(self._pending) > self.settings.max_pending:
                out.append(self._pending.popitem(last=False)[1])
                held -= out[-1].lines - out[-1].carried
        out.sort(key=_order)
        return [Joined(g[0], g[1], 1, 1) if type(g) is tuple else
                Joined(g.index, self._record(g), g.lines, g.lines - g.carried) for g in out], held

    def flush(self, now: float | None = None, force: bool = False) -> list[Joined]:
        """Held traces whose `hold_s` passed (all of them with force), as events."""
        now = time.monotonic() if now is None else now
        with self._lock:
            due = [k for k, g in self._pending.items() if force or now - g.held_at >= self.settings.hold_s]
            groups = [self._pending.pop(k) for k in due]
        for g in groups:
            g.carried, g.index = g.lines, -1
        return [Joined(-1, self._record(g), g.lines, 0) for g in groups]

    def requeue(self, events: list[Joined]) -> None:
        """Hold again events whose write failed (the database was away): the next join or
        flush gives them back unchanged, so a failed flush loses nothing."""
        with self._lock:
            for event in events:
                group = _Group(key=("requeued", id(event)), first=event.record, index=-1, kind="held",
                               head=[event.record.message], lines=event.lines, carried=event.lines,
                               level=event.record.level, trace_id=event.record.trace_id,
                               span_id=event.record.span_id, last_ts=event.record.ts, held_at=float("-inf"))
                self._pending[group.key] = group

    def _start(self, key: tuple, index: int, record: Record) -> _Group:
        text = record.message
        kind = "plain"
        if text.startswith(_STARTS):                   # cheap test first: most lines start nothing
            kind = "python" if _PY_HEADER.match(text) else "go" if _GO_START.match(text) else "plain"
        return _Group(key=key, first=record, index=index, kind=kind, state="frames" if kind == "python" else "",
                      head=[text], head_bytes=len(text) + 1, lines=1, level=record.level, trace_id=record.trace_id,
                      span_id=record.span_id, last_ts=record.ts)

    def _frame_follows(self, prev: Record, record: Record) -> bool:
        """A plain line followed by a frame line (`at ...`, `File "..."`, `Caused by:`) of its stream."""
        text = record.message
        return (self.settings.enabled and (text[:1].isspace() or text[:1] == "." or text.startswith("Caused by: "))
                and "\n" not in text and abs((record.ts - prev.ts).total_seconds()) <= self.settings.gap_s
                and bool(_STRONG.match(text)))

    def _continues(self, group: _Group, record: Record) -> bool:
        if not self.settings.enabled or abs((record.ts - group.last_ts).total_seconds()) > self.settings.gap_s:
            return False
        text = record.message
        if "\n" in text and not _STRONG.match(text):
            return False                               # a record that is already multi-line stands alone
        if group.kind == "python":
            return _python_continues(group, text)
        if group.kind == "go":
            return not text.strip() or text[:1] == "\t" or bool(_GO_LINE.match(text))   # a new `panic:` starts anew
        if group.state == "props":                     # Node prints an error's own fields: `at ... {` .. `}`
            if text.startswith("}"):
                group.state = ""
                return True
            return text[:1].isspace()
        if (text[:1].isspace() or text[:1] == "." or text.startswith("Caused by: ")) and _STRONG.match(text):
            if group.kind == "plain":
                group.kind = "frames"
            if text.endswith(" {"):
                group.state = "props"
            return True
        return False

    def _add(self, group: _Group, record: Record) -> None:
        if LEVEL_RANK[record.level] > LEVEL_RANK[group.level]:
            group.level = record.level
        group.trace_id = group.trace_id or record.trace_id
        group.span_id = group.span_id or record.span_id
        group.last_ts = record.ts
        self._append(group, record.message)

    def _append(self, group: _Group, text: str) -> None:
        group.lines += 1
        size = len(text) + 1                  # characters: _record measures bytes exactly
        half = self.settings.max_lines // 2
        if not group.tail and not group.dropped and len(group.head) < half \
                and (group.head_bytes + size <= self.settings.max_bytes // 2 or not group.head):
            group.head.append(text)
            group.head_bytes += size
            return
        group.tail.append(text)
        if len(group.tail) > max(1, self.settings.max_lines - half):
            group.tail.popleft()
            group.dropped += 1

    def _record(self, group: _Group) -> Record:
        tail = list(group.tail)
        budget = self.settings.max_bytes - group.head_bytes
        while tail and sum(len(t.encode("utf-8")) + 1 for t in tail) > budget:
            tail.pop(0)
            group.dropped += 1
        lines = list(group.head)
        if group.dropped:
            lines.append(f"[devmesh: {group.dropped} lines of this trace were left out: it has {group.lines} "
                         f"lines, the first {len(group.head)} and the last {len(tail)} are kept]")
        message = "\n".join(lines + tail)
        if len(message.encode("utf-8")) > MESSAGE_MAX_BYTES:
            message = message.encode("utf-8")[:MESSAGE_MAX_BYTES].decode("utf-8", "ignore")
        if group.lines == 1 or group.kind == "held":
            return group.first
        meta = dict(group.first.meta or {}, joined_lines=group.lines)
        return replace(group.first, message=message, level=group.level, trace_id=group.trace_id,
                       span_id=group.span_id, meta=meta)


def _order(g) -> tuple:
    """Events in the order of their first line: earlier requests' first, then by index."""
    if type(g) is tuple:
        return g[0], g[1].ts
    return g.index, g.first.ts


def stream_key(record: Record) -> tuple:
    stream = (record.meta or {}).get("stream")
    return record.host, record.service, record.source, stream if isinstance(stream, str) else ""


def _python_continues(group: _Group, text: str) -> bool:
    stripped = text.strip()
    if group.state == "frames":
        if _PY_GROUP_END.match(text):
            group.state = "done"
            return True
        if text[:1].isspace() or not stripped:
            return True
        if _PY_EXC.match(stripped):
            group.state = "done"
            return True
        return False
    if group.state == "done":
        if stripped in _PY_CHAIN:
            group.state = "chain"
            return True
        return not stripped
    if group.state == "chain":
        if _PY_HEADER.match(text):
            group.state = "frames"
            return True
        return not stripped
    return False


def _may_continue(group: _Group) -> bool:
    """A trace that may still be printing: worth holding for the next request."""
    if group.kind == "python":
        return True
    return group.kind in ("go", "frames")
