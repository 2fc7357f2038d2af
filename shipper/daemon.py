"""The shipping loop: read -> filter -> batch -> send -> save cursor, with stats.

Nothing is lost and nothing is doubled: the cursor moves only after the server
acknowledged a batch (so a crash re-sends at most that batch, which the server's log_hash
dedup absorbs); while the server is down the loop waits in the sender and reads nothing
more (journald is the buffer, memory stays bounded by one batch).
"""
from __future__ import annotations

import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field

from shipper.cursor import CursorStore
from shipper.filters import Filters
from shipper.journal import JournalSource, _text, to_record
from shipper.sender import Sender

log = logging.getLogger("shipper")


@dataclass
class Stats:
    read: int = 0
    filtered: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retried: int = 0
    lag_s: float = 0.0
    dropped_by_rule: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return json.dumps({"stats": self.__dict__}, sort_keys=True)


@dataclass
class Options:
    batch_size: int = 50
    flush_interval_s: float = 2.0
    stats_interval_s: float = 60.0
    host_name: str | None = None
    once: bool = False
    dry_run: bool = False


class Shipper:
    def __init__(self, source: JournalSource, sender: Sender, cursor: CursorStore, filters: Filters,
                 options: Options, out=sys.stdout):
        self.source, self.sender, self.cursor, self.filters = source, sender, cursor, filters
        self.options = options
        self.stats = Stats(dropped_by_rule=filters.dropped)
        self.stopping = False
        self.out = out
        self.sender.should_stop = lambda: self.stopping

    def install_signals(self) -> None:
        def stop(signum, _frame):
            log.info("signal %s: flushing and exiting", signum)
            self.stopping = True
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> int:
        self.source.start(self.cursor.load())
        batch: list[dict] = []
        last_cursor: str | None = None          # of the last entry read, sent or filtered
        batch_started = time.monotonic()
        next_stats = time.monotonic() + self.options.stats_interval_s
        while not self.stopping:
            entry = self.source.next()
            if entry is None:
                if batch or last_cursor:
                    if not self._flush(batch, last_cursor):
                        break
                    batch, last_cursor = [], None
                if self.options.once:
                    break
                self.source.wait(min(1.0, self.options.flush_interval_s))
                batch_started = time.monotonic()
            else:
                self.stats.read += 1
                last_cursor = entry.get("__CURSOR")
                self.stats.lag_s = max(0.0, time.time() - int(entry["__REALTIME_TIMESTAMP"]) / 1e6)
                if self._keep(entry):
                    if not batch:
                        batch_started = time.monotonic()
                    batch.append(to_record(entry, self.options.host_name))
            full = len(batch) >= self.options.batch_size
            old = batch and time.monotonic() - batch_started >= self.options.flush_interval_s
            if full or old:
                if not self._flush(batch, last_cursor):
                    break
                batch, last_cursor = [], None
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + self.options.stats_interval_s
                print(self.stats.line(), file=sys.stderr, flush=True)
        if self.stopping and (batch or last_cursor):
            self._flush(batch, last_cursor)     # SIGTERM: one last try, then leave it to journald
        self.stats.retried = self.sender.retries
        print(self.stats.line(), file=sys.stderr, flush=True)
        self.source.close()
        return 0

    def _keep(self, entry: dict) -> bool:
        priority = entry.get("PRIORITY")
        reason = self.filters.drop_reason(
            _text(entry.get("_SYSTEMD_UNIT")) or None, _text(entry.get("SYSLOG_IDENTIFIER")) or None,
            int(priority[0] if isinstance(priority, list) else priority) if priority is not None else None,
            _text(entry.get("MESSAGE")))
        if reason:
            self.stats.filtered += 1
            return False
        return True

    def _flush(self, batch: list[dict], cursor: str | None) -> bool:
        """Send, then save the cursor. False when stopping before the server answered."""
        if batch:
            if self.options.dry_run:
                print(json.dumps({"logs": batch}, separators=(",", ":")), file=self.out, flush=True)
                self.stats.sent += len(batch)
                return True
            answer = self.sender.send(batch)
            if answer is None:
                return False
            self.stats.sent += len(batch)
            self.stats.accepted += answer.get("accepted", 0)
            self.stats.duplicates += answer.get("duplicates", 0)
            for rejected in answer.get("rejected", []):
                self.stats.rejected += 1
                index = rejected.get("index")
                where = batch[index].get("meta", {}).get("cursor") if isinstance(index, int) and index < len(batch) else "?"
                log.warning("server rejected entry %s: %s (skipped)", where, rejected.get("error"))
        if cursor and not self.options.dry_run:
            self.cursor.save(cursor)
        return True
