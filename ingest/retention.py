"""`devmesh prune` and the server's daily retention job."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic_settings import BaseSettings, SettingsConfigDict

from db import embeddings, retention
from db import exceptions as exception_sql
from db.pool import Database



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
    exception_sql.prune(db, events_before, rollups_before)     # their exception rows too; clusters stay
    out["templates"] = retention.prune_templates(db, min(events_before, rollups_before), retention.cited_templates(db),
                                                 tables)
    return out
