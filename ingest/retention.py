"""`devmesh prune` and the server's daily retention job."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from pydantic_settings import BaseSettings, SettingsConfigDict

from db import embeddings, retention
from db.pool import Database

log = logging.getLogger(__name__)


class RetentionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_RETENTION_")

    events_days: float = 14.0          # raw events
    rollups_days: float = 90.0         # minute rollups (detectors need hours; trends want weeks)
    interval_s: float = 86400.0        # the server's job; 0 = off


def prune(db: Database, settings: RetentionSettings, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    events_before = now - timedelta(days=settings.events_days)
    rollups_before = now - timedelta(days=settings.rollups_days)
    out = {"events": retention.prune_events(db, events_before),
           "rollups": retention.prune_rollups(db, rollups_before)}
    tables = [m["table"] for m in embeddings.models(db)]
    out["templates"] = retention.prune_templates(db, min(events_before, rollups_before), retention.cited_templates(db),
                                                 tables)
    return out


class RetentionJob:
    def __init__(self, db: Database, settings: RetentionSettings):
        self.db, self.settings = db, settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: dict | None = None

    def start(self) -> None:
        if self._thread is None and self.settings.interval_s > 0:
            self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_s):
            try:
                self.last = prune(self.db, self.settings)
                log.info("retention: %s", self.last)
            except Exception as exc:  # noqa: BLE001 - tomorrow's run tries again
                log.warning("retention failed: %s", exc)
