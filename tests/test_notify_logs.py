"""Issue 24 (3): the server logs what it does. A notification is one line with the incident
id and the target: INFO when sent, WARNING when it failed (with why), never the webhook URL
(Discord's carries its token), and no line per retry. The webhooks are outside the machine:
respx plays them at the HTTP layer."""
from __future__ import annotations

import logging

import httpx
import respx

from agents.notify import Notifier, NotifySettings

DISCORD = "https://discord.test/api/webhooks/1/s3cret-token"
HOOK = "https://hooks.test/devmesh"
INCIDENT = {"id": 42, "title": "disk full on db-1 (mariadb)", "severity": "error",
            "opened_at": "2026-01-20T10:00:00Z"}
REPORT = {"root_cause_service": "mariadb", "root_cause_hypothesis": "the disk is full", "confidence": 0.8,
          "candidates": [], "impacted_services": [], "suggested_actions": []}


def lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "agents.notify"]


@respx.mock
def test_sent_and_failed_are_one_line_each_with_the_incident_id(caplog):
    respx.post(DISCORD).mock(return_value=httpx.Response(204))
    failing = respx.post(HOOK).mock(return_value=httpx.Response(503))
    notifier = Notifier(NotifySettings(discord_webhook_url=DISCORD, webhook_url=HOOK, retries=3))
    with caplog.at_level(logging.DEBUG, logger="agents.notify"):
        assert notifier.notify(INCIDENT, REPORT) == {"discord": True, "webhook": False}
    assert failing.call_count == 3
    records = [r for r in lines(caplog) if r.levelno >= logging.INFO]
    assert [(r.levelname, "incident 42" in r.getMessage()) for r in records] == [("INFO", True), ("WARNING", True)]
    sent, failed = (r.getMessage() for r in records)
    assert "discord" in sent and "sent" in sent
    assert "webhook" in failed and "failed" in failed and "503" in failed
    assert not any("s3cret-token" in r.getMessage() or HOOK in r.getMessage() for r in lines(caplog))


@respx.mock
def test_an_unreachable_webhook_and_the_rate_limit_say_so_once(caplog):
    respx.post(HOOK).mock(side_effect=httpx.ConnectError("connection refused"))
    notifier = Notifier(NotifySettings(webhook_url=HOOK, retries=2, max_per_minute=1))
    with caplog.at_level(logging.INFO, logger="agents.notify"):
        assert notifier.notify(INCIDENT, REPORT) == {"webhook": False}
        assert notifier.notify({**INCIDENT, "id": 43}, REPORT) == {"webhook": False}
    first, second = (r.getMessage() for r in lines(caplog))
    assert "incident 42" in first and "ConnectError" in first and "2 attempt" in first
    assert "incident 43" in second and "rate limit" in second
    assert notifier.failures == 1
