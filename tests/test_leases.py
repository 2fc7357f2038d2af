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
