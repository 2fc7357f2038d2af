"""The one ingest pipeline, used by HTTP, file import and evals alike.

    process_batch(raw records)  pure: normalize -> join stack-trace lines (ingest/multiline.py)
                                -> log_hash -> parse exceptions (ingest/stacktrace.py) -> template
                                (same input, same PreparedBatch; no I/O; the Ingestor passes its
                                Joiner, which holds a trace still open for the next batch)
    Ingestor.write(prepared)    one transaction: new templates (INSERT IGNORE), events
                                (one multi-row INSERT IGNORE ... RETURNING), template stats
                                and minute rollups (per template, and their per-service sums) for
                                the rows that were new, exception clusters
                                (ingest/exceptions.py); then the new template ids go to the
                                embedding queue.

A bad record is rejected alone with its index and reason; a duplicate (same log_hash,
in the batch or already stored) is counted, not stored, and adds nothing to the rollups,
so re-posting a batch is harmless. MariaDB down -> DatabaseUnavailable, nothing written.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Iterable, Iterator

import mariadb
from pydantic_settings import BaseSettings, SettingsConfigDict

from db import counts, events, merges, templates
from db.pool import Database, is_conflict
from db.tracing import NOOP, Tracer
from ingest import exceptions
from ingest.canon import CANON_VERSION
from ingest.exceptions import ClusterChange, ExceptionSettings
from ingest.merging import MergeMap
from ingest.multiline import Joined, Joiner, JoinSettings, stream_key
from ingest.normalize import LEVEL_RANK, Record, RecordError, normalize
from ingest.service_map import ServiceMap
from ingest.stacktrace import summary_line
from ingest.templates import Template, template_for

log = logging.getLogger(__name__)


class _Vanished(Exception):
    """Rows INSERT IGNORE skipped that are not stored either: redo the transaction."""


class IngestSettings(BaseSettings):
    """Limits of one ingest request."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_INGEST_")

    max_records: int = 5000                 # per request -> 413 above
    max_body_bytes: int = 16 * 1024 * 1024  # compressed or not -> 413 above
    known_templates_cache: int = 100_000    # template ids known to exist in the database


@dataclass
class PreparedBatch:
    """What a raw batch becomes before any I/O."""

    records: list[Record] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)          # each record's position in the request
    lines: list[int] = field(default_factory=list)            # this request's lines each event holds
    parsed: list = field(default_factory=list)                # each event's ParsedException or None
    in_batch_duplicates: int = 0
    unmapped: int = 0
    joined: int = 0                                           # lines folded into an earlier line's event
    pending: int = 0                                          # lines held for a trace's next batch
    undo: tuple | None = None                                 # (held traces before, streams): a failed write


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    new_templates: int = 0
    unmapped: int = 0
    new_template_ids: list[int] = field(default_factory=list)
    joined: int = 0
    pending: int = 0
    cluster_changes: list[ClusterChange] = field(default_factory=list)

    def as_response(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected,
                "new_templates": self.new_templates, "unmapped": self.unmapped, "joined": self.joined,
                "pending": self.pending}


def process_batch(raw_records: list, services: ServiceMap | None = None, joiner: Joiner | None = None,
                  exception_settings: ExceptionSettings | None = None, hold: bool = True) -> PreparedBatch:
    """Pure: normalize, map to an inventory service, join stack-trace lines, hash, parse
    exceptions, template. Rejects carry the record's index in the request. Without a
    joiner (or with hold=False), lines join within this batch (and what the joiner held) and
    nothing is held for the next one."""
    out = PreparedBatch()
    items: list[tuple[int, Record]] = []
    for index, raw in enumerate(raw_records):
        try:
            record = normalize(raw)
        except RecordError as exc:
            out.rejected.append({"index": index, "error": str(exc)})
            continue
        items.append((index, record))
    if joiner is not None and hold:
        out.undo = (joiner.snapshot(), {stream_key(r) for _, r in items})
    joined, out.pending = (joiner or Joiner()).join(items, hold=hold and joiner is not None)
    return _prepared(joined, services, exception_settings, out)


def _prepared(joined: list[Joined], services: ServiceMap | None, exception_settings: ExceptionSettings | None,
              out: PreparedBatch | None = None) -> PreparedBatch:
    """Joined events -> hashed, mapped to an inventory service, parsed, templated rows
    (duplicates within the batch folded). The hash uses the raw service name, so dedup does
    not depend on the inventory of the day. Lines joined here are templated by their
    exception line (stacktrace.summary_line when they do not parse); a record that came as it
    is, by its whole text as before."""
    out = out or PreparedBatch()
    seen: set[bytes] = set()
    for event in joined:
        record = event.record
        digest = record.log_hash()
        if digest in seen:
            out.in_batch_duplicates += event.fresh
            continue
        seen.add(digest)
        if services is not None:
            mapped = services.resolve(record.host, record.service, record.meta)
            if mapped is None:
                services.note_unmapped(record.service)
                out.unmapped += 1
            elif mapped != record.service:       # a copy: a requeued event keeps its raw service (and hash)
                record = replace(record, meta={**(record.meta or {}), "raw_service": record.service}, service=mapped)
        parsed = exceptions.analyse(record, exception_settings)
        out.records.append(record)
        out.indexes.append(event.index)
        out.hashes.append(digest)
        out.lines.append(event.fresh)
        out.parsed.append(parsed)
        out.joined += event.fresh - (1 if event.fresh == event.lines else 0)   # its first line may be earlier
        if event.lines == 1:             # a record as it came (maybe multi-line already): templated as ever
            headline = record.message
        else:                            # lines we joined: named by the exception, not "Traceback ..."
            headline = parsed.headline if parsed else summary_line(record.message)
        out.templates.append(template_for(headline))
    return out


class Ingestor:
    """Writes prepared batches; keeps a bounded cache of template ids known to be stored."""

    def __init__(self, db: Database, settings: IngestSettings | None = None,
                 services: ServiceMap | None = None, merges: MergeMap | None = None,
                 joiner: Joiner | None = None, exception_settings: ExceptionSettings | None = None,
                 hold_traces: bool = False):
        self.db = db
        self.joiner = joiner or Joiner(JoinSettings())          # traces open at a batch's end wait here
        self.hold_traces = hold_traces       # the server's receivers: a trace may go on in the next request
        self.exception_settings = exception_settings or ExceptionSettings()
        self.merges = merges if merges is not None else MergeMap()   # learned templates (ingest/merging.py)
        self._merges_loaded = False
        self.services = services            # replaced whole when the inventory is reloaded
        self.settings = settings or IngestSettings()
        self.canon_version = CANON_VERSION
        self._known: OrderedDict[int, None] = OrderedDict()
        self.on_new_templates: Callable[[list[int]], None] | None = None
        self.tracer: Tracer = NOOP           # db/tracing.py; the server sets its own

    def ingest(self, raw_records: list, hold: bool | None = None) -> IngestResult:
        """Prepare and write one batch, traced as one `ingest batch` span."""
        with self.tracer.start_as_current_span("ingest batch", attributes={"devmesh.records": len(raw_records)}) as span:
            batch = self.prepare(raw_records, hold)
            try:
                return _described(span, self.write(batch))
            except Exception:
                if batch.undo is not None:       # nothing was stored; the client sends it again
                    self.joiner.restore(*batch.undo)
                raise

    def prepare(self, raw_records: list, hold: bool | None = None) -> PreparedBatch:
        """process_batch with this ingestor's joiner: a trace open at the end is held when
        `hold` (default: hold_traces) and written by a later batch or flush_pending."""
        return process_batch(raw_records, self.services, self.joiner, self.exception_settings,
                             hold=self.hold_traces if hold is None else hold)

    def flush_pending(self, force: bool = False) -> IngestResult:
        """Write the held traces whose wait is over (all of them with force: shutdown, end of a file)."""
        joined = self.joiner.flush(force=force)
        if not joined:
            return IngestResult()
        try:
            return self.write(_prepared(joined, self.services, self.exception_settings))
        except Exception:
            self.joiner.requeue(joined)          # the database is away: they wait for the next flush
            raise

    def _write_traced(self, batch: PreparedBatch, size: int) -> IngestResult:
        with self.tracer.start_as_current_span("ingest batch", attributes={"devmesh.records": size}) as span:
            return _described(span, self.write(batch))

    def ingest_stream(self, batches: Iterable[list]) -> Iterator[IngestResult]:
        """Many batches (file import, replay): batch n+1 is prepared while batch n is being
        written on one writer thread. At most two prepared batches wait; results come back
        in order, and a write error is raised here."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer") as writer:
            inflight: deque[Future] = deque()
            for raw in batches:
                inflight.append(writer.submit(self._write_traced, self.prepare(raw, hold=True), len(raw)))
                if len(inflight) >= 2:
                    yield inflight.popleft().result()
            while inflight:
                yield inflight.popleft().result()
        flushed = self.flush_pending(force=True)         # the stream ended: no trace is still printing
        if flushed.accepted or flushed.duplicates or flushed.rejected:
            yield flushed

    def write(self, batch: PreparedBatch) -> IngestResult:
        result = IngestResult(duplicates=batch.in_batch_duplicates, rejected=batch.rejected,
                              unmapped=batch.unmapped, joined=batch.joined, pending=batch.pending,
                              accepted=batch.pending)
        if not batch.records:
            return result
        stored, new_merges = self._stored_templates(batch.templates)
        for attempt in range(4):
            try:
                inserted, new_ids, refused, changes = self._write_once(batch, stored, new_merges, final=attempt == 3)
                break
            except _Vanished as exc:
                log.info("ingest batch: %s; retrying (%d)", exc, attempt + 1)
                time.sleep(0.05 * (attempt + 1))
            except mariadb.Error as exc:
                if not is_conflict(exc) or attempt == 3:
                    raise
                log.info("ingest batch hit %s; retrying (%d)", exc, attempt + 1)
                time.sleep(0.05 * (attempt + 1))
        refused_at = {r["index"] for r in refused}
        for digest, lines, index in zip(batch.hashes, batch.lines, batch.indexes):
            if digest in inserted:
                result.accepted += lines
            elif index not in refused_at:
                result.duplicates += lines
        result.cluster_changes = changes
        result.rejected = sorted([*result.rejected, *refused], key=lambda r: r["index"])
        result.new_templates = len(new_ids)
        result.new_template_ids = sorted(new_ids)
        for template_id in {t.id for t in batch.templates} | {t.id for t in stored}:
            self._remember(template_id)
        if new_ids and self.on_new_templates:
            self.on_new_templates(result.new_template_ids)
        return result

    def _stored_templates(self, canon: list[Template]) -> tuple[list[Template], list[tuple[int, int]]]:
        """Each record's template as stored: its canon template, or the learned one covering
        it; plus the merges matched now (canon ids no merge row names yet)."""
        if not self._merges_loaded:
            self.merges.load(self.db)
            self._merges_loaded = True
        else:
            self.merges.refresh(self.db)
        if not len(self.merges) and not self.merges.has_patterns():
            return canon, []
        by_id: dict[int, Template] = {}
        new: list[tuple[int, int]] = []
        for t in canon:
            if t.id not in by_id:
                target, fresh = self.merges.resolve(t)
                by_id[t.id] = target
                if fresh:
                    new.append((t.id, target.id))
        return [by_id[t.id] for t in canon], new

    def _write_once(self, batch: PreparedBatch, stored: list[Template], new_merges: list[tuple[int, int]],
                    final: bool = True) -> tuple[set[bytes], set[int], list[dict], list[ClusterChange]]:
        """(hashes inserted, new template ids, records the database refused, clusters made new
        or regressed). A row INSERT IGNORE
        skipped is a duplicate only when its log_hash is stored. Anything else IGNORE
        downgraded is first taken as a concurrency effect (a writer racing us on the same
        rows): the transaction is rolled back and redone; on the last attempt those records
        are rejected with a reason (a value MariaDB's checks refuse), never a silent "duplicate"."""
        by_id: dict[int, Template] = {t.id: t for t in batch.templates}
        by_id.update((t.id, t) for t in stored)
        merged = {t.id for t, s in zip(batch.templates, stored) if s.id != t.id}
        with self.db.transaction() as cur:
            unknown = [tid for tid in by_id if tid not in self._known]
            new_ids: set[int] = set()
            if unknown:          # canon rows too (the learner's set), and a learned row pruned since
                first = _first_seen(batch.records, batch.templates)
                first.update(_first_seen(batch.records, stored))
                new_ids = templates.insert_new(cur, [
                    (tid, by_id[tid].canon_hash, by_id[tid].template, first[tid][1], first[tid][0],
                     first[tid][0], by_id[tid].canon_version) for tid in unknown]) - merged
            merges.add_new(cur, new_merges)
            inserted = set(events.insert_events(cur, [
                (digest, r.ts, r.host, r.service, r.source, r.level, r.message, r.trace_id, r.span_id,
                 r.event_type, r.error_code, r.meta_json(), t.id)
                for r, digest, t in zip(batch.records, batch.hashes, stored)]))
            changes: list[ClusterChange] = []
            if inserted:
                stats, rollups = _aggregate(batch.records, batch.hashes, stored, inserted)
                templates.add_stats(cur, [(tid, by_id[tid].canon_hash, by_id[tid].template, *s,
                                           by_id[tid].canon_version) for tid, s in stats.items()])
                rows = [(*key, n) for key, n in rollups.items()]
                counts.add(cur, rows)
                counts.add_services(cur, rows)          # their per-service sums (the rates)
            changes = exceptions.write(cur, batch.records, batch.hashes, batch.parsed, batch.templates, inserted)
            skipped = [h for h in batch.hashes if h not in inserted]
            stored = events.stored_hashes(cur, skipped) if skipped else set()
            if not final and len(stored) < len(skipped):
                raise _Vanished(f"{len(skipped) - len(stored)} rows neither inserted nor stored")
        refused = [{"index": i, "error": "the database refused this record (a value its column checks reject); "
                                         "nothing of it was stored"}
                   for i, h in zip(batch.indexes, batch.hashes) if h not in inserted and h not in stored]
        return inserted, new_ids, refused, changes

    def _remember(self, template_id: int) -> None:
        self._known[template_id] = None
        self._known.move_to_end(template_id)
        while len(self._known) > self.settings.known_templates_cache:
            self._known.popitem(last=False)

    def forget_templates(self) -> None:
        """Drop the known-template cache (after the database was reset under us)."""
        self._known.clear()



def _described(span, result: IngestResult) -> IngestResult:
    if span.is_recording():
        span.set_attributes({"devmesh.accepted": result.accepted, "devmesh.duplicates": result.duplicates,
                             "devmesh.rejected": len(result.rejected), "devmesh.new_templates": result.new_templates,
                             "devmesh.unmapped": result.unmapped})
    return result


def _first_seen(records: list[Record], templates_: list[Template]) -> dict[int, tuple[datetime, str]]:
    out: dict[int, tuple[datetime, str]] = {}
    for record, template in zip(records, templates_):
        seen = out.get(template.id)
        if seen is None or record.ts < seen[0]:
            out[template.id] = (record.ts, record.level)
    return out


def _aggregate(records: list[Record], hashes: list[bytes], templates_: list[Template], inserted: set[bytes]):
    """Per template: (level, first, last, count); per minute key: count. New rows only."""
    stats: dict[int, list] = {}
    rollups: dict[tuple, int] = {}
    for record, digest, template in zip(records, hashes, templates_):
        if digest not in inserted:
            continue
        s = stats.get(template.id)
        if s is None:
            stats[template.id] = [record.level, record.ts, record.ts, 1]
        else:
            if LEVEL_RANK[record.level] > LEVEL_RANK[s[0]]:
                s[0] = record.level
            s[1] = min(s[1], record.ts)
            s[2] = max(s[2], record.ts)
            s[3] += 1
        key = (record.ts.replace(second=0, microsecond=0), record.service, record.host, template.id,
               record.level)
        rollups[key] = rollups.get(key, 0) + 1
    return {tid: tuple(v) for tid, v in stats.items()}, rollups
