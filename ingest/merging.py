"""Where learned templates meet ingest: the merge map writers use, and the learning run.

    canon.py (pure, per line)  ->  canon template id            same in every process
    MergeMap.resolve           ->  the learned template covering it, if any
    TemplateLearner.run        ->  learn over every canon template in MariaDB, write the
                                   merges, move events / rollups / counts (db/merges.py)

The database arbitrates: a learned template's id is the hash of its generic text (like any
template), learning reads the whole set of canon templates from MariaDB (not a process's
own), and runs under a named lock, so every server computes the same merges and writes
them once. A writer maps a canon id through the merge table, and a canon template it has
never seen through the learned patterns (LearnedIndex), so a new line of a learned
statement lands on the learned template at once instead of looking new until the next run.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import mariadb
from pydantic_settings import BaseSettings, SettingsConfigDict

from db import leases
from db import merges as sql
from db.pool import Database, is_conflict
from ingest.canon import CANON_VERSION, generic
from ingest.learn import LearnedIndex, learned_groups
from ingest.templates import Template, template_key

log = logging.getLogger(__name__)
LOCK_WAIT_S = 30
LEASE, LEASE_TTL_S = "devmesh_learn", 60.0        # renewed every 20 s while a run lasts


class LearnSettings(BaseSettings):
    """The server's learning job (ingest/merging.py)."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_LEARN_")

    interval_s: float = 60.0          # 0 = off (templates stay as canon.py makes them)
    refresh_s: float = 30.0           # how often a writer checks for merges another process wrote


class MergeMap:
    """canon id -> learned Template, refreshed from the database (bounded by the number of
    templates, like the templates table itself)."""

    def __init__(self, refresh_s: float = 30.0):
        self.refresh_s = refresh_s
        self._to: dict[int, int] = {}
        self._learned: dict[int, Template] = {}
        self._index = LearnedIndex()
        self._stamp: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def load(self, db: Database) -> None:
        stamp = sql.stamp(db)
        to, targets = sql.mapping(db), sql.learned_targets(db)
        learned = {tid: Template(tid, bytes(digest), text, version) for tid, digest, text, version in targets}
        index = LearnedIndex((tid, generic(t.template)) for tid, t in learned.items())
        with self._lock:
            self._to, self._learned, self._index, self._stamp = to, learned, index, stamp
            self._checked = time.monotonic()

    def refresh(self, db: Database) -> None:
        """Reload when another process (or this one's learner) wrote merges since."""
        if time.monotonic() - self._checked < self.refresh_s:
            return
        self._checked = time.monotonic()
        if sql.stamp(db) != self._stamp:
            self.load(db)

    def resolve(self, canon: Template) -> tuple[Template, bool]:
        """(the template to store under, whether this is a merge the table does not hold yet)."""
        with self._lock:
            target = self._to.get(canon.id)
            if target is not None:
                learned = self._learned.get(target)
                return (learned, False) if learned is not None else (canon, False)
            if not len(self._index):
                return canon, False
            matched = self._index.match(generic(canon.template))
            if matched is None or matched == canon.id:
                return canon, False
            self._to[canon.id] = matched
            return self._learned[matched], True

    def __len__(self) -> int:
        return len(self._to)

    def has_patterns(self) -> bool:
        return len(self._index) > 0


@dataclass
class LearnResult:
    canon_templates: int = 0
    learned_templates: int = 0
    merged: int = 0                 # ids newly mapped this run
    rollups_moved: int = 0
    events_moved: int = 0
    leftovers: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class TemplateLearner:
    """One learning run over the database; `merges` (the writers' map) is reloaded after."""

    def __init__(self, db: Database, merges: MergeMap | None = None):
        self.db = db
        self.merges = merges
        self._learned: dict = {}            # per token count: the last run's input and result

    def run(self) -> LearnResult:
        start = time.perf_counter()
        result = LearnResult()
        # a lease (a row: it holds across a Galera cluster too): one learner at a time, fleet-wide
        with leases.held(self.db, LEASE, LEASE_TTL_S, LOCK_WAIT_S) as lease:
            if lease is None:
                log.info("template learning skipped: another process is learning")
                return result
            self._learn(result)
            self._sweep(result)
        if self.merges is not None:
            self.merges.load(self.db)
        result.seconds = time.perf_counter() - start
        if result.merged or result.leftovers:
            log.info("template learning: %s", result.as_dict())
        return result

    def _learn(self, result: LearnResult) -> None:
        canon = sql.canon_templates(self.db)
        result.canon_templates = len(canon)
        typed_by_generic: dict[str, list[str]] = defaultdict(list)
        ids_by_generic: dict[str, int] = {}
        for template_id, text in canon:
            g = generic(text)
            typed_by_generic[g].append(text)
            ids_by_generic[g] = template_id
        groups = learned_groups(typed_by_generic, cache=self._learned)
        current = sql.mapping(self.db)
        result.learned_templates = len(groups)
        for target_text, (members, display) in groups.items():
            target_id, digest = template_key(target_text)
            member_ids = sorted({ids_by_generic[g] for g in members} - {target_id})
            # ids whose counts move now: canon ids not yet under a learned template, and
            # learned templates this one supersedes; ids already under one of those follow it
            moving = sorted({current.get(i, i) for i in member_ids if current.get(i) != target_id} - {target_id})
            if not moving:
                continue

            def merge(cur, moving=moving, member_ids=member_ids, target_id=target_id, digest=digest,
                      display=display) -> int:
                sql.upsert_learned(cur, (target_id, digest, display, CANON_VERSION), moving)
                sql.record(cur, [(i, target_id) for i in moving] +
                           [(i, target_id) for i in member_ids if i not in moving])
                sql.drop_vectors(cur, sorted(set(moving) | set(member_ids)))
                return sql.move_rollups(cur, moving, target_id)

            result.rollups_moved += self._transaction(merge)
            result.events_moved += self._retry(lambda: sql.move_events(self.db, moving, target_id))
            result.merged += len(set(moving) | set(member_ids))

    def _sweep(self, result: LearnResult) -> None:
        """Rows a writer stored under an id after it was merged: moved the same way."""
        left = sql.leftovers(self.db)
        result.leftovers = len(left)
        by_target: dict[int, list[int]] = defaultdict(list)
        for frm, to in left.items():
            by_target[to].append(frm)
        for to, members in sorted(by_target.items()):
            def sweep(cur, members=sorted(members), to=to) -> int:
                moved = sql.move_rollups(cur, members, to)
                sql.add_count(cur, to, moved)
                return moved

            result.rollups_moved += self._transaction(sweep)
            result.events_moved += self._retry(lambda: sql.move_events(self.db, sorted(members), to))

    def _transaction(self, work):
        def once():
            with self.db.transaction() as cur:
                return work(cur)
        return self._retry(once)

    @staticmethod
    def _retry(work, attempts: int = 12):
        """Writers touch the same rows (stats, rollups of this minute): a conflict rolls the
        transaction back whole, and it is redone. The learner is a background job, so it
        yields: up to 12 tries with a growing, jittered pause (~6 s in all), since under a
        busy ingest a handful of deadlocks in a row do happen."""
        for attempt in range(attempts):
            try:
                return work()
            except mariadb.Error as exc:
                if not is_conflict(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.02 * (attempt + 1) * (1 + random.random()) + 0.01 * attempt * attempt)
