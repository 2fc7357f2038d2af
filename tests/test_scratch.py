"""Scratch databases reused (db/scratch.Scratch, behind the eval runner and these tests'
own databases): handed out again only empty, counters back at 1, schema as migrate made it."""
from __future__ import annotations

from db.pool import Database
from db.scratch import Scratch
from ingest.pipeline import Ingestor
from tests.conftest import record


def _names(rw) -> set[str]:
    return {row[0] for row in Database(rw).fetchall("SHOW DATABASES LIKE 'devmesh\\_reuse\\_%'")}


def test_a_database_given_back_comes_back_empty_with_its_counters_at_one(base_urls):
    scratch = Scratch(base_urls[0], "reuse")
    try:
        url = scratch.take()
        db = Database(url)
        Ingestor(db).ingest([record(i) for i in range(3)])
        with db.transaction() as cur:                     # written, then emptied by the test itself
            cur.execute("INSERT INTO leases (name, owner, expires_at) VALUES ('x', 'y', NOW())")
            cur.execute("DELETE FROM leases")
        db.close()
        scratch.give_back(url)
        again = scratch.take()
        assert again == url                                # the same database, not a new one
        db = Database(again)
        assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == 0
        assert db.fetchone("SELECT COUNT(*) FROM log_templates")[0] == 0
        assert db.fetchone("SELECT COUNT(*) FROM schema_migrations")[0] > 0        # migrations stay applied
        Ingestor(db).ingest([record(0)])
        assert db.fetchone("SELECT MIN(id) FROM log_events")[0] == 1                # as in a new database
        db.close()
        scratch.give_back(again)
    finally:
        scratch.close()
    assert url.database not in _names(base_urls[0])       # close drops the spares


def test_a_database_whose_schema_a_user_changed_is_dropped_not_reused(base_urls):
    scratch = Scratch(base_urls[0], "reuse")
    try:
        url = scratch.take()
        db = Database(url)
        with db.transaction() as cur:
            cur.execute("ALTER TABLE leases ADD COLUMN extra INT NULL")
        db.close()
        scratch.give_back(url)
        assert url.database not in _names(base_urls[0])
        fresh = scratch.take()
        assert fresh != url
        scratch.give_back(fresh)
    finally:
        scratch.close()
