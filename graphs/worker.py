"""Investigations are claimed from the database by a bounded pool of worker threads.

`SELECT ... FOR UPDATE SKIP LOCKED` lets any number of servers share the queue; a worker
that dies mid-investigation leaves its incident 'investigating' with an old claim, and the
next claim after `stale_s` takes it again (up to `max_attempts`).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

from pydantic_settings import BaseSettings, SettingsConfigDict

from db import incidents as incident_sql
from graphs.investigate import Context, investigate

log = logging.getLogger(__name__)


class InvestigationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_INVESTIGATE_")

    workers: int = 2
    poll_s: float = 2.0
    stale_s: float = 300.0
    max_attempts: int = 3
    baseline_minutes: int = 240


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def run_one(ctx: Context, settings: InvestigationSettings) -> int | None:
    """Claim one incident and investigate it; returns its id, or None when nothing waits."""
    stale = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=settings.stale_s)
    incident_id = incident_sql.claim(ctx.db, worker_name(), stale, settings.max_attempts)
    if incident_id is None:
        return None
    try:
        investigate(incident_id, ctx)
    except Exception as exc:  # noqa: BLE001 - recorded on the incident; retried until max_attempts
        log.exception("investigation of incident %s failed", incident_id)
        incident_sql.set_status(ctx.db, incident_id, "open", f"{type(exc).__name__}: {exc}")
    return incident_id


class InvestigationPool:
    def __init__(self, ctx: Context, settings: InvestigationSettings | None = None):
        self.ctx, self.settings = ctx, settings or InvestigationSettings()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.on_done = None                    # called with the seconds an investigation took

    def start(self) -> None:
        for n in range(self.settings.workers):
            thread = threading.Thread(target=self._loop, name=f"investigator-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(10)
        self._threads = []

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                start = time.perf_counter()
                if run_one(self.ctx, self.settings) is not None:
                    if self.on_done:
                        self.on_done(time.perf_counter() - start)
                    continue
            except Exception as exc:  # noqa: BLE001 - e.g. the database is down: wait and retry
                log.warning("investigation worker: %s", exc)
            self._wake.wait(self.settings.poll_s)
            self._wake.clear()
