"""The embedding queue: new templates get vectors in the background, never blocking ingest.

Ingest hands new template ids to `enqueue` (non-blocking; a full queue drops ids, which
the periodic sweep picks up again from the database: "missing vector" is the real queue).
A failing or slow embedder only delays vectors; `devmesh embed --backfill` fills the rest.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

from db import embeddings
from db import templates as template_sql
from db.pool import Database
from ingest.embedders import EmbedSettings, Embedder, embedding_text

log = logging.getLogger(__name__)


class EmbeddingWorker:
    def __init__(self, db: Database, embedder: Embedder, settings: EmbedSettings | None = None):
        self.db = db
        self.embedder = embedder
        self.settings = settings or EmbedSettings()
        self._queue: queue.Queue[int] = queue.Queue(maxsize=self.settings.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._table: str | None = None
        self.embedded = 0
        self.dropped = 0
        self.failures = 0
        self._streak = 0                  # consecutive failures: the retry backoff
        self.last_error: str | None = None

    def table(self) -> str:
        if self._table is None:
            self._table = embeddings.ensure_model(self.db, self.embedder.name, self.embedder.dim)
        return self._table

    def enqueue(self, template_ids: list[int]) -> None:
        for template_id in template_ids:
            try:
                self._queue.put_nowait(template_id)
            except queue.Full:
                self.dropped += 1

    def embed_ids(self, template_ids: list[int]) -> int:
        rows = template_sql.get_many(self.db, template_ids)
        return self._embed_rows([(tid, rows[tid]["template"]) for tid in template_ids if tid in rows])

    def _embed_rows(self, rows: list[tuple[int, str]]) -> int:
        if not rows:
            return 0
        vectors = self.embedder.embed([embedding_text(text) for _, text in rows])
        embeddings.store(self.db, self.table(), [(tid, vec.tobytes()) for (tid, _), vec in zip(rows, vectors)])
        self.embedded += len(rows)
        return len(rows)

    def backfill(self, batch_size: int = 64, progress: bool = False, limit: int | None = None) -> int:
        """Embed every template without a vector for this model; safe to stop and rerun."""
        table = self.table()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=embeddings.count_missing(self.db, table), unit="tpl", desc="embedding")
        done, after = 0, 0
        while limit is None or done < limit:
            rows = embeddings.missing(self.db, table, batch_size, after)
            if not rows:
                break
            done += self._embed_rows(rows)
            after = rows[-1][0]
            if bar:
                bar.update(len(rows))
        if bar:
            bar.close()
        return done

    def status(self) -> dict:
        return {"queue_depth": self._queue.qsize(), "embedded": self.embedded, "dropped": self.dropped,
                "failures": self.failures, "last_error": self.last_error}

    # -- background thread -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="embedding-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        next_sweep = time.monotonic() + 1.0
        while not self._stop.is_set():
            batch = self._take(self.settings.batch_size, timeout=0.5)
            try:
                if batch:
                    self.embed_ids(batch)
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.settings.sweep_interval_s
                    self.backfill(self.settings.batch_size, limit=self.settings.batch_size * 20)
                self._streak = 0
            except Exception as exc:  # noqa: BLE001 - a failing embedder must not kill the worker
                self.failures += 1
                self._streak += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("embedding failed (will retry from the sweep): %s", self.last_error)
                self._stop.wait(min(30.0, 2.0 ** min(self._streak, 5)))

    def _take(self, n: int, timeout: float) -> list[int]:
        try:
            items = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(items) < n:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items
