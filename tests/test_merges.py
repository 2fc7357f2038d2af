"""Learned templates in the real MariaDB: merges move events, rollups and counts exactly."""
from __future__ import annotations

import threading

from db import detector_sql
from ingest.merging import MergeMap, TemplateLearner
from ingest.pipeline import Ingestor
from ingest.templates import template_for

PROGRAMS = ["chrome.exe", "firefox.exe", "dropbox.exe", "slack.exe", "spotify.exe"]


def _line(program: str, n: int) -> str:
    return f"{program} - proxy.example.net:5070 close, {n} bytes sent, {n * 2} bytes received"


def _records(programs, start: int, count: int, host: str = "pc1") -> list[dict]:
    return [{"timestamp": 1768903200 + start + i, "host": host, "service": "proxifier",
             "level": "info", "message": _line(programs[i % len(programs)], start + i)} for i in range(count)]


def _totals(db) -> dict:
    return {
        "events": db.fetchone("SELECT COUNT(*) FROM log_events")[0],
        "rollups": int(db.fetchone("SELECT COALESCE(SUM(count), 0) FROM template_counts")[0]),
        "counts": int(db.fetchone("SELECT COALESCE(SUM(total_count), 0) FROM log_templates t WHERE NOT EXISTS "
                                  "(SELECT 1 FROM template_merges m WHERE m.from_id = t.id)")[0]),
        "left_on_merged": db.fetchone(
            "SELECT (SELECT COUNT(*) FROM template_counts c JOIN template_merges m ON m.from_id = c.template_id)"
            " + (SELECT COUNT(*) FROM log_events e JOIN template_merges m ON m.from_id = e.template_id)")[0],
    }


def _event_templates(db) -> set[int]:
    return {r[0] for r in db.fetchall("SELECT DISTINCT template_id FROM log_events")}


def test_learning_merges_one_statement_and_moves_everything_exactly(db):
    ingestor = Ingestor(db)
    assert ingestor.ingest(_records(PROGRAMS[:3], 0, 60)).accepted == 60
    assert len(_event_templates(db)) == 3                       # masks alone: one per program
    result = TemplateLearner(db, ingestor.merges).run()
    assert result.merged == 3 and result.rollups_moved == 60 and result.events_moved == 60
    (learned,) = _event_templates(db)
    row = db.fetchone("SELECT template, total_count, learned, first_seen FROM log_templates WHERE id = ?", (learned,))
    assert row[0].startswith("<*> - ") and row[1] == 60 and row[2] == 1
    first = db.fetchone("SELECT MIN(first_seen) FROM log_templates WHERE learned = 0")[0]
    assert row[3] == first                                      # as old as its oldest member: not "new"
    assert _totals(db) == {"events": 60, "rollups": 60, "counts": 60, "left_on_merged": 0}
    again = TemplateLearner(db, ingestor.merges).run()          # idempotent
    assert again.merged == 0 and _totals(db)["rollups"] == 60


def test_a_new_value_lands_on_the_learned_template_at_ingest(db):
    ingestor = Ingestor(db)
    ingestor.ingest(_records(PROGRAMS[:3], 0, 30))
    TemplateLearner(db, ingestor.merges).run()
    (learned,) = _event_templates(db)
    result = ingestor.ingest(_records(["teams.exe"], 100, 5))
    assert result.accepted == 5 and result.new_templates == 0   # not reported (or embedded) as new
    assert _event_templates(db) == {learned}
    canon = template_for(_line("teams.exe", 100)).id
    assert db.fetchone("SELECT to_id FROM template_merges WHERE from_id = ?", (canon,)) == (learned,)
    # the new-template detector does not see the merged canon row either
    with db.transaction() as cur:
        seen = detector_sql.new_templates(cur, db.fetchone("SELECT MIN(first_seen) FROM log_templates")[0],
                                          db.fetchone("SELECT MAX(last_seen) FROM log_templates")[0], 0)
    assert canon not in {t for t, _, _ in seen}
    assert _totals(db) == {"events": 35, "rollups": 35, "counts": 35, "left_on_merged": 0}


def test_a_writer_with_an_old_map_leaves_rows_the_next_run_moves(db):
    ingestor = Ingestor(db)
    stale = Ingestor(db, merges=MergeMap(refresh_s=3600))
    stale.ingest(_records(PROGRAMS[:1], 0, 1))                  # loads its (empty) map now
    ingestor.ingest(_records(PROGRAMS[:3], 10, 30))
    TemplateLearner(db, ingestor.merges).run()
    stale.ingest(_records(PROGRAMS[:3], 100, 30))               # still writes the canon ids
    assert _totals(db)["left_on_merged"] > 0
    result = TemplateLearner(db, ingestor.merges).run()
    assert result.leftovers == 3
    assert _totals(db) == {"events": 61, "rollups": 61, "counts": 61, "left_on_merged": 0}


def test_a_more_general_template_supersedes_an_earlier_learned_one(db):
    ingestor = Ingestor(db)
    records = [{"timestamp": 1768903200 + i, "host": "h", "service": "s", "level": "warning",
                "message": f"queue {q} stalled on alpha"} for i, q in enumerate(["mail", "print", "scan"])]
    ingestor.ingest(records)
    TemplateLearner(db, ingestor.merges).run()
    (first,) = _event_templates(db)                             # "queue <*> stalled on alpha"
    more = [{"timestamp": 1768903300 + i, "host": "h", "service": "s", "level": "warning",
             "message": f"queue mail stalled on {w}"} for i, w in enumerate(["beta", "gamma", "delta"])]
    ingestor.ingest(more)
    TemplateLearner(db, ingestor.merges).run()
    (second,) = _event_templates(db)                            # "queue <*> stalled on <*>"
    assert second != first
    assert db.fetchone("SELECT template FROM log_templates WHERE id = ?", (second,))[0] == "queue <*> stalled on <*>"
    assert db.fetchone("SELECT to_id FROM template_merges WHERE from_id = ?", (first,)) == (second,)
    assert {r[0] for r in db.fetchall("SELECT DISTINCT to_id FROM template_merges")} == {second}
    assert _totals(db) == {"events": 6, "rollups": 6, "counts": 6, "left_on_merged": 0}


def test_merges_under_concurrent_ingest_lose_and_double_nothing(db):
    """Writers keep ingesting (new values, same minutes) while the learner runs again and
    again; after a last run every line is counted once, under the learned template."""
    writers = [Ingestor(db, merges=MergeMap(refresh_s=0)) for _ in range(2)]
    errors: list[BaseException] = []
    learned_once = threading.Event()        # half the batches wait for a learning run: merges meet writes

    def write(k: int) -> None:
        try:
            for batch in range(25):
                if batch == 12:
                    assert learned_once.wait(60), "the learner never ran"
                programs = [f"app{k}{batch % 7}.exe", *PROGRAMS]
                writers[k].ingest(_records(programs, 10_000 * k + 40 * batch, 40, host=f"pc{k}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    learner = TemplateLearner(db)
    while any(t.is_alive() for t in threads):
        learner.run()
        learned_once.set()
    for t in threads:
        t.join()
    assert not errors, errors
    learner.run()
    assert _totals(db) == {"events": 2000, "rollups": 2000, "counts": 2000, "left_on_merged": 0}
    assert len(_event_templates(db)) == 1


def test_retention_forgets_merges_with_their_templates_and_lines_come_back_clean(db):
    from datetime import datetime, timedelta

    from ingest.retention import RetentionSettings, prune

    ingestor = Ingestor(db)
    ingestor.ingest(_records(PROGRAMS[:3], 0, 30))
    TemplateLearner(db, ingestor.merges).run()
    later = datetime(2026, 1, 20) + timedelta(days=400)
    pruned = prune(db, RetentionSettings(), now=later)
    assert pruned["templates"] == 4                         # three canon rows and the learned one
    assert db.fetchone("SELECT COUNT(*) FROM template_merges")[0] == 0
    fresh = Ingestor(db)
    fresh.ingest(_records(PROGRAMS[:3], 10**7, 30))
    TemplateLearner(db, fresh.merges).run()
    assert len(_event_templates(db)) == 1
    assert _totals(db) == {"events": 30, "rollups": 30, "counts": 30, "left_on_merged": 0}
