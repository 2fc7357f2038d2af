"""service_counts (migration 0015, issue 18): the per-service minute sums written at ingest
beside template_counts, read by GET /stats/services and the detectors' minute series. On the
real pipeline and MariaDB: they equal template_counts summed per (minute, service) after
duplicates, a template merge and retention; the migration's backfill rebuilds them."""
from __future__ import annotations

from datetime import datetime, timedelta

from db import detector_sql, rates, retention
from db.migrate import MIGRATIONS_DIR, statements
from ingest.merging import TemplateLearner
from ingest.pipeline import Ingestor

T0 = datetime(2026, 3, 1, 12, 0)
PROGRAMS = ["chrome.exe", "firefox.exe", "slack.exe"]


def _records() -> list[dict]:
    out = []
    for m in range(6):
        for k in range(5):
            at = (T0 + timedelta(minutes=m, seconds=k * 7)).isoformat() + "Z"
            out.append({"timestamp": at, "host": f"pc{k % 2}", "service": "proxifier", "level": "info",
                        "message": f"{PROGRAMS[k % 3]} - proxy.example.net:5070 close, {m * 10 + k} bytes sent"})
            out.append({"timestamp": at, "host": "db-1", "service": "mariadb", "level": ("error", "critical",
                        "warning", "info", "alert")[k], "message": f"query {m}-{k} failed after {k} ms"})
    return out


def _from_templates(db) -> dict:
    return {(b, s): (int(n), int(e)) for b, s, n, e in db.fetchall(
        "SELECT bucket, service, SUM(count), SUM(IF(level + 0 >= 5, count, 0)) FROM template_counts "
        "GROUP BY bucket, service")}


def _stored(db) -> dict:
    return {(b, s): (int(n), int(e)) for b, s, n, e in db.fetchall("SELECT bucket, service, count, errors FROM service_counts")}


def test_service_sums_follow_ingest_duplicates_merges_and_retention(db):
    ingestor = Ingestor(db)
    logs = _records()
    assert ingestor.ingest(logs).accepted == len(logs)
    assert ingestor.ingest(logs[:20]).accepted == 0                    # duplicates add nothing
    sums = _stored(db)
    assert sums == _from_templates(db) and len(sums) == 12
    assert sums[(T0, "mariadb")] == (5, 3) and sums[(T0, "proxifier")] == (5, 0)   # error, critical, alert
    with db.connection() as conn:
        series = detector_sql.minute_counts(conn.cursor(), T0, T0 + timedelta(minutes=6))
    assert sorted(series) == sorted((b, s, n, e) for (b, s), (n, e) in sums.items())
    steps = rates.service_steps(db, T0, T0 + timedelta(minutes=6), 180)
    assert sorted(steps) == [("mariadb", 0, 15, 9), ("mariadb", 1, 15, 9), ("proxifier", 0, 15, 0), ("proxifier", 1, 15, 0)]

    assert TemplateLearner(db, ingestor.merges).run().merged == 3      # rollups move between templates
    assert _stored(db) == _from_templates(db) == sums

    retention.prune_rollups(db, T0 + timedelta(minutes=2))
    assert _stored(db) == _from_templates(db) and len(_stored(db)) == 8


def test_the_migration_backfills_from_template_counts(db):
    ingestor = Ingestor(db)
    ingestor.ingest(_records())
    expected = _stored(db)
    with db.transaction() as cur:
        cur.execute("DELETE FROM service_counts WHERE service = 'mariadb'")
        cur.execute("UPDATE service_counts SET count = 1, errors = 1")   # partial rows: replaced, not added to
        for sql in statements((MIGRATIONS_DIR / "0015_service_counts.sql").read_text()):
            cur.execute(sql)
    assert _stored(db) == expected
