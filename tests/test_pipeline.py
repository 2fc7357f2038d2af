"""The pure half of the pipeline and the streamed writer."""
from __future__ import annotations

import pytest

from db.pool import Database
from ingest.pipeline import Ingestor, process_batch
from tests.conftest import record


def test_processing_the_same_batch_twice_gives_the_same_result():
    raw = [record(i) for i in range(20)] + [{"bad": 1}, record(3)]
    a, b = process_batch(raw), process_batch(raw)
    assert a == b
    assert len(a.records) == 20 and a.in_batch_duplicates == 1
    assert a.rejected == [{"index": 20, "error": a.rejected[0]["error"]}]


def test_stream_gives_sequential_results_in_order(db):
    batches = [[record(i) for i in range(k * 10, k * 10 + 10)] for k in range(5)] + [[record(0), record(99)]]
    results = list(Ingestor(db).ingest_stream(batches))
    assert [r.accepted for r in results] == [10, 10, 10, 10, 10, 1]
    assert results[-1].duplicates == 1
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 51


def test_stream_raises_a_write_error_in_the_callers_thread(db_urls):
    from db.settings import DBUrl

    wrong = DBUrl(db_urls[0].user, "wrong-password", db_urls[0].host, db_urls[0].port, db_urls[0].database)
    broken = Database(wrong)
    import mariadb

    with pytest.raises(mariadb.Error):
        list(Ingestor(broken).ingest_stream([[record(1)], [record(2)]]))
