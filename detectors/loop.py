"""The server's detector loop: a cycle every `interval_s` on the wall clock."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from detectors.cycle import CycleResult
from ingest.background import Periodic


def detector_loop(cycle: Callable[[datetime], CycleResult], interval_s: float,
                  on_opened: Callable[[list[int]], None] | None = None) -> Periodic:
    def run() -> dict:
        result = cycle(datetime.now(timezone.utc).replace(tzinfo=None))
        if (result.opened or result.requeued) and on_opened:
            on_opened(result.opened + result.requeued)
        return {k: v for k, v in result.as_dict().items() if k != "signals"}
    return Periodic("detectors", interval_s, run)
