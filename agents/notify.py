"""Notifications: a Discord webhook and a generic JSON webhook, with retries and a rate
limit. A failing webhook is logged and counted; it never fails an investigation.

Each notification is one log line with the incident id and the target's name (never its
URL: a Discord webhook URL is a credential): INFO when sent, WARNING when it failed, with
the reason (the last attempt's status or error)."""
from __future__ import annotations

import logging
import time
from collections import deque

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)
COLORS = {"critical": 0xE02424, "error": 0xF05252, "warning": 0xFACA15, "info": 0x3F83F8}


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_NOTIFY_")

    discord_webhook_url: str | None = None
    webhook_url: str | None = None
    retries: int = 3
    timeout_s: float = 5.0
    max_per_minute: int = 10
    base_url: str = "http://127.0.0.1:8000"      # where links in messages point


def discord_payload(incident: dict, report: dict, base_url: str) -> dict:
    """Discord's webhook shape: content plus one embed (title <= 256, description <= 4096,
    up to 25 fields with name <= 256 and value <= 1024)."""
    candidates = report.get("candidates", [])[:3]
    fields = [{"name": f"#{i + 1} {c['service']}" + (f" ({c['host']})" if c.get("host") else ""),
               "value": ("; ".join(c["reasons"][:3]) or "-")[:1024], "inline": False}
              for i, c in enumerate(candidates)]
    if report.get("impacted_services"):
        fields.append({"name": "Impacted", "value": ", ".join(report["impacted_services"])[:1024], "inline": True})
    if report.get("suggested_actions"):
        fields.append({"name": "Do first", "value": "\n".join(f"- {a}" for a in report["suggested_actions"][:3])[:1024],
                       "inline": False})
    return {"content": f"DevMesh incident #{incident['id']}: {incident['title']}"[:2000],
            "embeds": [{"title": f"Root cause: {report.get('root_cause_service') or 'unknown'}"[:256],
                        "description": report["root_cause_hypothesis"][:4096],
                        "url": f"{base_url.rstrip('/')}/incidents/{incident['id']}",
                        "color": COLORS.get(incident["severity"], COLORS["info"]),
                        "fields": fields[:25],
                        "footer": {"text": f"confidence {report['confidence']:.2f}"},
                        "timestamp": incident["opened_at"]}]}


def json_payload(incident: dict, report: dict) -> dict:
    return {"event": "incident.reported", "incident": incident,
            "report": {k: report.get(k) for k in ("root_cause_service", "root_cause_host", "root_cause_hypothesis",
                                                  "confidence", "impacted_services", "suggested_actions",
                                                  "evidence_template_ids")}}


class Notifier:
    def __init__(self, settings: NotifySettings | None = None, client: httpx.Client | None = None):
        self.settings = settings or NotifySettings()
        self.client = client or httpx.Client(timeout=self.settings.timeout_s)
        self._sent: deque[float] = deque()
        self.failures = 0

    def _allowed(self) -> bool:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 60:
            self._sent.popleft()
        if len(self._sent) >= self.settings.max_per_minute:
            return False
        self._sent.append(now)
        return True

    def _post(self, url: str, payload: dict) -> tuple[bool, str]:
        """(delivered, what happened): 'HTTP 204, attempt 1', 'refused: HTTP 404', ..."""
        reason = "no attempt made (DEVMESH_NOTIFY_RETRIES=0)"
        for attempt in range(1, self.settings.retries + 1):
            try:
                response = self.client.post(url, json=payload)
                if response.status_code < 300:
                    return True, f"HTTP {response.status_code}, attempt {attempt}"
                reason = f"HTTP {response.status_code} after {attempt} attempt(s)"
                if response.status_code == 429:
                    retry_after = float(response.headers.get("retry-after", "1") or 1)
                    time.sleep(min(retry_after, 5))
                    continue
                if response.status_code < 500:
                    reason = f"refused: HTTP {response.status_code}"
                    break
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc} after {attempt} attempt(s)"
                log.debug("webhook attempt %d failed: %s", attempt, exc)
            if attempt < self.settings.retries:
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2))
        self.failures += 1
        return False, reason

    def notify(self, incident: dict, report: dict) -> dict[str, bool]:
        """Send to what is configured; returns {target: delivered}. Never raises."""
        out = {}
        targets = [("discord", self.settings.discord_webhook_url,
                    lambda: discord_payload(incident, report, self.settings.base_url)),
                   ("webhook", self.settings.webhook_url, lambda: json_payload(incident, report))]
        for name, url, payload in targets:
            if not url:
                continue
            if not self._allowed():
                log.warning("incident %s: %s notification not sent: rate limit (DEVMESH_NOTIFY_MAX_PER_MINUTE=%d)",
                            incident["id"], name, self.settings.max_per_minute)
                out[name] = False
                continue
            try:
                out[name], reason = self._post(url, payload())
            except Exception as exc:  # noqa: BLE001 - a notification must never fail the investigation
                self.failures += 1
                out[name], reason = False, f"{type(exc).__name__}: {exc}"
            if out[name]:
                log.info("incident %s: %s notification sent (%s)", incident["id"], name, reason)
            else:
                log.warning("incident %s: %s notification failed (%s)", incident["id"], name, reason)
        return out
