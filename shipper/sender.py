"""POSTing batches: gzip, bearer token, retries with exponential backoff and full jitter.

Network errors, 429 and 5xx are retried forever (the journal is the buffer; the daemon
stops reading meanwhile), honouring Retry-After. Other errors are fatal: the operator must
fix the URL, the token or the server.
"""
from __future__ import annotations

import gzip
import json
import logging
import random
import time
import urllib.error
import urllib.request
from typing import Callable

log = logging.getLogger("shipper")


class FatalSendError(RuntimeError):
    """The server refused the batch in a way retrying cannot fix."""


class Sender:
    def __init__(self, url: str, token: str | None = None, timeout_s: float = 30,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 30,
                 should_stop: Callable[[], bool] = lambda: False):
        self.url = url.rstrip("/") + "/ingest/logs" if not url.rstrip("/").endswith("/ingest/logs") else url
        self.token = token
        self.timeout_s = timeout_s
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.should_stop = should_stop
        self.retries = 0

    def _post_once(self, body: bytes) -> tuple[int, dict, str | None]:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, json.loads(response.read() or b"{}"), None
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read() or b"{}")
            except ValueError:
                payload = {}
            return exc.code, payload, exc.headers.get("Retry-After")

    def send(self, records: list[dict]) -> dict | None:
        """The server's answer, or None if asked to stop while the server was unreachable."""
        body = gzip.compress(json.dumps({"logs": records}, separators=(",", ":")).encode())
        attempt = 0
        while True:
            retry_after = None
            try:
                status, payload, retry_after = self._post_once(body)
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                status, payload = None, {"error": {"message": str(exc)}}
            if status == 200:
                return payload
            if status is not None and status != 429 and status < 500:
                message = (payload.get("error") or {}).get("message", "")
                raise FatalSendError(f"server answered {status} at {self.url}: {message}")
            if self.should_stop():
                return None
            attempt += 1
            self.retries += 1
            delay = random.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2 ** min(attempt, 16)))
            if retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after))
            log.warning("server unavailable (%s); retry %d in %.1fs", status or payload["error"]["message"],
                        attempt, delay)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not self.should_stop():
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
