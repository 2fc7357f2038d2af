"""Durations the lines report as a change statistic (agents/durations.py): pure functions,
no database; the eval sets in tests/test_evals.py hold what it does to the ranking."""
from __future__ import annotations

import random

from agents import durations
from ingest.canon import canonicalize


def test_the_durations_of_a_line_are_read_in_seconds_and_counts_are_not_durations():
    assert durations.values("done GET /api/orders/290 -> 404 in 2 ms") == [0.002]
    assert durations.values("Refreshed 2028 station entries in 46 ms") == [0.046]
    assert durations.values('{"event": "request_finished", "status": 200, "duration_ms": 8.1}') == [0.0081]
    assert durations.values("upstream took=1.5 status=200 bytes=512") == [1.5]
    assert durations.values("slow query (1.2s) then retry after 300ms") == [1.2, 0.3]
    assert durations.values("processed 512 records for user 77") == []


def test_a_template_is_timed_by_its_duration_placeholder_or_a_duration_key():
    assert durations.timed(canonicalize("done GET /api/orders/290 -> 404 in 2 ms"))
    assert durations.timed(canonicalize('{"event": "request_finished", "status": 200, "duration_ms": 8.1}'))
    assert not durations.timed(canonicalize("processed 512 records for user 77"))


def _lines(rng: random.Random, n: int, ms: float) -> list[str]:
    return [f"done GET /api/items/{rng.randint(1, 9999)} -> 200 in {max(1, round(rng.gauss(ms, ms / 4)))} ms"
            for _ in range(n)]


def test_durations_that_doubled_are_a_surprise_and_the_same_ones_are_not():
    rng = random.Random(3)
    before = _lines(rng, 200, 10)
    surprise, m0, m1, n0, n1, tested = durations.compare(before, _lines(rng, 200, 20))
    assert surprise > 10 and (m0, m1) == (0.01, 0.02) and (n0, n1, tested) == (200, 200, 1)
    assert durations.compare(before, _lines(rng, 200, 10))[0] == 0.0


def test_a_small_drift_is_not_a_change_however_many_lines_show_it():
    rng = random.Random(4)
    surprise = durations.compare(_lines(rng, 2000, 100), _lines(rng, 2000, 110))[0]
    assert surprise == 0.0          # 10% slower is significant at this size, and means nothing


def test_shorter_durations_and_too_few_lines_say_nothing():
    rng = random.Random(5)
    assert durations.compare(_lines(rng, 200, 20), _lines(rng, 200, 10))[0] == 0.0
    assert durations.compare(_lines(rng, 3, 10), _lines(rng, 3, 40))[0] == 0.0


def test_each_position_in_a_line_is_compared_on_its_own():
    rng = random.Random(6)

    def lines(n: int, db_ms: float, total_ms: float) -> list[str]:
        return [f"query took {max(1, round(rng.gauss(db_ms, 1)))} ms, request took "
                f"{max(1, round(rng.gauss(total_ms, 5)))} ms" for _ in range(n)]

    surprise, m0, m1, *_ = durations.compare(lines(100, 5, 50), lines(100, 5, 150))
    assert surprise > 10 and m1 > 0.1          # the second position grew; the first did not
    assert durations.compare(lines(100, 5, 50), lines(100, 5, 50))[0] == 0.0
