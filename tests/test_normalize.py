"""Normalization of wire records: timestamps, levels, required fields."""
from __future__ import annotations

from datetime import datetime

import pytest

from ingest.normalize import RecordError, normalize, normalize_level, parse_timestamp


@pytest.mark.parametrize("value, expected", [
    ("2026-01-20T10:00:00Z", datetime(2026, 1, 20, 10)),
    ("2026-01-20 12:00:00+02:00", datetime(2026, 1, 20, 10)),
    ("2026-01-20T10:00:00.123456789Z", datetime(2026, 1, 20, 10, 0, 0, 123456)),
    (1768903200, datetime(2026, 1, 20, 10)),
    (1768903200123, datetime(2026, 1, 20, 10, 0, 0, 123000)),
    (1768903200123456, datetime(2026, 1, 20, 10, 0, 0, 123456)),
    ("1768903200123456789", datetime(2026, 1, 20, 10, 0, 0, 123457)),
])
def test_timestamps_become_naive_utc_microseconds(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["", None, "tomorrow", True, "0001-01-01T00:00:00Z", [1]])
def test_bad_timestamps_are_errors(value):
    with pytest.raises(RecordError, match="timestamp"):
        parse_timestamp(value)


@pytest.mark.parametrize("value, level", [("WARN", "warning"), ("err", "error"), ("FATAL", "critical"),
                                          (3, "error"), ("6", "info"), ("trace", "debug"), ("emerg", "emergency")])
def test_levels(value, level):
    assert normalize_level(value) == level


def test_level_from_message_when_absent():
    assert normalize_level(None, "2026 ERROR something broke") == "error"
    assert normalize_level(None, "all good") == "info"


def test_required_and_unknown_fields():
    good = {"timestamp": 1768903200, "host": "h", "service": "s", "message": "m"}
    assert normalize(good).service == "s"
    for missing in ("host", "service", "message"):
        with pytest.raises(RecordError, match=missing):
            normalize({k: v for k, v in good.items() if k != missing})
    with pytest.raises(RecordError, match="meta"):
        normalize({**good, "color": "red"})
    with pytest.raises(RecordError, match="meta"):
        normalize({**good, "meta": [1]})


def test_lone_surrogates_do_not_break_the_record():
    rec = normalize({"timestamp": 1768903200, "host": "h", "service": "s", "message": "bad \ud800 byte"})
    assert rec.message == "bad \ufffd byte"
    rec.log_hash()
