"""The server's detector loop: a cycle every `interval_s` on the wall clock."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from detectors.cycle import CycleResult

log = logging.getLogger(__name__)


class DetectorLoop:
    def __init__(self, cycle: Callable[[datetime], CycleResult], interval_s: float,
                 on_opened: Callable[[list[int]], None] | None = None):
        self.cycle, self.interval_s, self.on_opened = cycle, interval_s, on_opened
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: dict | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is None and self.interval_s > 0:
            self._thread = threading.Thread(target=self._loop, name="detectors", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                result = self.cycle(datetime.now(timezone.utc).replace(tzinfo=None))
                self.last, self.last_error = {k: v for k, v in result.as_dict().items() if k != "signals"}, None
                if result.opened and self.on_opened:
                    self.on_opened(result.opened)
            except Exception as exc:  # noqa: BLE001 - next cycle redoes the same minutes
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("detector cycle failed: %s", self.last_error)
