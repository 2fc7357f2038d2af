"""One periodic background job: a daemon thread that runs `job()` every `interval_s`.

Used for the detector loop, graph enrichment and retention. A failing run is logged and
remembered (`last_error`); the next run simply tries again.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval_s: float, job: Callable[[], Any],
                 on_result: Callable[[Any], None] | None = None):
        self.name, self.interval_s, self.job, self.on_result = name, interval_s, job, on_result
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: Any = None
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is None and self.interval_s > 0:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.last, self.last_error = self.job(), None
                if self.on_result:
                    self.on_result(self.last)
            except Exception as exc:  # noqa: BLE001 - the next run tries again
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%s failed: %s", self.name, self.last_error)
