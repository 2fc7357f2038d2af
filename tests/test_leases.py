"""Leases (db/leases.py) on the single MariaDB: one holder at a time, renewal, takeover after expiry."""
from db import leases


def test_one_holder_renewal_and_takeover_after_expiry(db):
    with db.connection() as a, db.connection() as b:
        assert leases.acquire(a, "t_lease", 60, owner="A")
        assert not leases.acquire(b, "t_lease", 60, owner="B")       # held: no second holder
        assert leases.acquire(a, "t_lease", 60, owner="A")           # renewal by the holder
        assert leases.holder(b, "t_lease") == "A"
        cur = b.cursor()                                             # A's lease runs out
        cur.execute("UPDATE leases SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE name = 't_lease'")
        b.commit()
        assert leases.holder(b, "t_lease") is None
        assert leases.acquire(b, "t_lease", 60, owner="B")           # taken over
        assert not leases.acquire(a, "t_lease", 60, owner="A")
        leases.release(a, "t_lease", owner="A")                      # not A's: no effect
        assert leases.holder(a, "t_lease") == "B"
        leases.release(b, "t_lease", owner="B")
        assert leases.acquire(a, "t_lease", 60, owner="A")


def test_cycle_skips_while_another_node_holds_the_detector_lease(db):
    from detectors.cycle import LOCK, run_cycle
    from tests.test_detectors import SETTINGS, T0
    with db.connection() as other:
        assert leases.acquire(other, LOCK, 60, owner="other-node")
        assert not run_cycle(db, None, SETTINGS, T0).ran
        leases.release(other, LOCK, owner="other-node")
    assert run_cycle(db, None, SETTINGS, T0).ran


def test_a_held_lease_is_renewed_past_its_ttl_and_released_after(db):
    """Renewed while the job holds every connection of its pool (the server's migrator has
    one): the renewer has a connection of its own."""
    from db.pool import Database
    from evals.live import wait_until

    single = Database(db.url, 1)
    with db.connection() as other:
        with leases.held(single, "t_renew", ttl_s=3) as lease, single.connection():
            assert lease is not None
            wait_until(lambda: lease.renewals >= 4, 20, "four renewals (4 s > the 3 s ttl)")
            assert not leases.acquire(other, "t_renew", 60, owner="B")   # still held: renewed, not expired
            assert not lease.lost
        assert leases.holder(other, "t_renew") is None                   # released at the end
        assert leases.acquire(other, "t_renew", 60, owner="B")
        with leases.held(db, "t_renew", ttl_s=3, wait_s=0.3) as lease:   # B holds it: not taken
            assert lease is None
    single.close()


def test_a_cycle_longer_than_its_lease_keeps_it(db, monkeypatch):
    """The cycle renews its lease while it runs (on another connection, so the cycle's own
    transaction is not committed by the renewal): nobody takes it over mid-cycle."""
    import time

    from detectors import cycle
    from tests.test_detectors import SETTINGS, T0

    settings = SETTINGS.model_copy(update={"lease_s": 2.0})
    seen = []

    def slow_cycle(cur, graph, settings, end, units):
        with db.connection() as other:
            deadline = time.monotonic() + 4.5                            # over twice the lease
            while time.monotonic() < deadline:
                seen.append(leases.acquire(other, cycle.LOCK, 60, owner="other-node"))
                time.sleep(0.1)
        return cycle.CycleResult(ran=True)

    monkeypatch.setattr(cycle, "_cycle", slow_cycle)
    assert cycle.run_cycle(db, None, settings, T0).ran
    assert seen and not any(seen)
    with db.connection() as conn:
        assert leases.holder(conn, cycle.LOCK) is None                    # a one-off run gives it up


def test_the_servers_loop_keeps_the_detector_lease_between_cycles(db):
    from detectors.cycle import LOCK, run_cycle
    from tests.test_detectors import SETTINGS, T0

    assert run_cycle(db, None, SETTINGS, T0, keep_lease=True).ran
    with db.connection() as other:
        assert leases.holder(other, LOCK) == leases.OWNER                 # this process leads
        assert not leases.acquire(other, LOCK, 60, owner="other-node")
    assert run_cycle(db, None, SETTINGS, T0, keep_lease=True).ran        # the leader renews
    assert run_cycle(db, None, SETTINGS, T0).ran
    with db.connection() as other:
        assert leases.holder(other, LOCK) is None


def test_a_failing_cycle_on_a_dead_connection_raises_its_own_error(db, monkeypatch):
    """Bug: the cycle's `finally` released the lease and the named lock on the cycle's
    connection; with that connection gone (its node died) the release raised 'lost
    connection' and replaced the cycle's own error. Now cleanup is quiet."""
    import pytest

    from detectors import cycle
    from tests.test_detectors import SETTINGS, T0

    def dying_cycle(cur, graph, settings, end, units):
        cur.execute("SELECT CONNECTION_ID()")
        own = cur.fetchone()[0]
        with db.connection() as other:
            other.cursor().execute(f"KILL {int(own)}")
        raise ValueError("the cycle's own error")

    monkeypatch.setattr(cycle, "_cycle", dying_cycle)
    with pytest.raises(ValueError, match="own error"):
        cycle.run_cycle(db, None, SETTINGS, T0)


def test_two_migrations_at_once_apply_each_migration_once(base_urls):
    """The migration lock is a lease now (GET_LOCK is per Galera node): two processes
    migrating a fresh database at once, one applies everything, the other nothing."""
    import threading

    from db.migrate import available, migrate
    from db.pool import Database
    from tests.conftest import _create_database, _drop_database

    name = _create_database(base_urls[0])
    try:
        dbs = [Database(base_urls[0].with_database(name)) for _ in range(2)]
        results, errors = [None, None], []
        start = threading.Barrier(2)

        def run(i):
            start.wait()
            try:
                results[i] = migrate(dbs[i])
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert sorted(len(r) for r in results) == [0, len(available())]
        assert dbs[0].fetchone("SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations") == \
            (len(available()), len(available()))
        assert dbs[0].fetchone("SELECT COUNT(*) FROM leases WHERE name = 'devmesh_migrate' "
                               "AND expires_at >= NOW(6)")[0] == 0                  # released
        for d in dbs:
            d.close()
    finally:
        _drop_database(base_urls[0], name)


def test_a_failing_migration_raises_its_error_and_frees_the_lease(base_urls, tmp_path, monkeypatch):
    import mariadb
    import pytest

    from db import migrate as migrations
    from db.pool import Database, DatabaseUnavailable
    from tests.conftest import _create_database, _drop_database

    (tmp_path / "0001_dies.sql").write_text("KILL CONNECTION_ID();\n")   # the connection dies mid-migration
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    name = _create_database(base_urls[0])
    db = Database(base_urls[0].with_database(name))
    try:
        with pytest.raises(DatabaseUnavailable) as failure:
            migrations.migrate(db)
        assert isinstance(failure.value.__cause__, mariadb.Error) and failure.value.__cause__.errno == 1927
        assert db.fetchone("SELECT COUNT(*) FROM leases WHERE expires_at >= NOW(6)")[0] == 0
    finally:
        db.close()
        _drop_database(base_urls[0], name)


def test_the_learner_skips_while_another_node_learns(db, monkeypatch):
    """The learner's lock is the lease devmesh_learn (it was GET_LOCK, which another Galera
    node never sees)."""
    from ingest import merging
    from ingest.pipeline import Ingestor
    from tests.conftest import record

    Ingestor(db).ingest([record(i) for i in range(5)])
    monkeypatch.setattr(merging, "LOCK_WAIT_S", 0.3)
    with db.connection() as other:
        assert leases.acquire(other, merging.LEASE, 60, owner="other-node")
        assert merging.TemplateLearner(db).run().canon_templates == 0      # skipped: not its turn
        leases.release(other, merging.LEASE, owner="other-node")
    assert merging.TemplateLearner(db).run().canon_templates >= 1
    with db.connection() as conn:
        assert leases.holder(conn, merging.LEASE) is None                  # given up after the run
