"""A detector's finding, before it is folded into an incident."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Signal:
    detector: str                 # error_spike | new_error_template | silence | catastrophic | correlation
    service: str
    at: datetime                  # the minute it was seen
    severity: str                 # info | warning | error | critical
    message: str
    host: str | None = None
    template_ids: list[int] = field(default_factory=list)
    detail: dict = field(default_factory=dict)
