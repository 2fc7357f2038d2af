"""Migrations: append-only, numbered, and harmless to run again."""
from __future__ import annotations

from array import array

import pytest

from db.migrate import applied, available, migrate, statements
from db.version import MIN_VERSION, UnsupportedServer, check_version, server_info


def test_migration_runs_twice_harmlessly(db):
    assert migrate(db) == []                   # the fixture already migrated this database
    assert applied(db) == [n for n, _, _ in available()]
    with db.transaction() as cur:              # a half-applied migration (row lost) reruns cleanly
        cur.execute("DELETE FROM schema_migrations")
    assert migrate(db) == [f"{n:04d}_{name}" for n, name, _ in available()]
    assert migrate(db) == []


def test_schema_has_the_contract_tables_and_the_vector_index(db):
    """Issue 14 (bug): this test read `SHOW CREATE TABLE`, and MariaDB 11.8.9 prints
    `DISTANCE`='cosine' where 11.8.6 printed `DISTANCE`=cosine, so a fresh machine failed.
    Cause: asserting on text the server formats. Fix: check what the schema does, through
    information_schema and the plans of kNN queries."""
    tables = {r[0] for r in db.fetchall("SHOW TABLES")}
    assert {"log_events", "log_templates", "template_counts", "embedding_models", "schema_migrations"} <= tables
    from db.embeddings import ensure_model, store

    table = ensure_model(db, "probe-model", 8)
    data_type, nullable = db.fetchone(
        "SELECT DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'embedding'", (table,))
    assert (data_type.lower(), nullable) == ("vector", "NO")
    index_types = {r[0].upper() for r in db.fetchall(
        "SELECT INDEX_TYPE FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'embedding'", (table,))}
    assert index_types == {"VECTOR"}
    store(db, table, [(i, array("f", [float((i * j) % 7) + 1 for j in range(8)]).tobytes()) for i in range(1, 40)])
    probe = array("f", [1.0] * 8).tobytes()

    def index_used(distance: str) -> bool:
        plan = db.fetchall(f"EXPLAIN SELECT template_id FROM `{table}` ORDER BY {distance}(embedding, ?) LIMIT 5",
                           (probe,))
        return any(row[5] == "embedding" for row in plan)          # the `key` column of the plan
    assert index_used("VEC_DISTANCE_COSINE")                        # the index serves cosine kNN ...
    assert not index_used("VEC_DISTANCE_EUCLIDEAN")                 # ... and only cosine: DISTANCE=cosine


def test_the_server_version_is_checked(db):
    assert check_version("11.8.9-MariaDB-0+deb13u1") == (11, 8, 9)
    assert check_version("12.0.2-MariaDB") == (12, 0, 2)
    for old in ("11.4.5-MariaDB", "10.11.6-MariaDB-0+deb12u1"):
        with pytest.raises(UnsupportedServer, match="11.7"):
            check_version(old)
    assert MIN_VERSION == (11, 7)
    info = server_info(db)                         # the running server: reported as it is
    assert info["supported"] and info["vector"]
    assert check_version(info["version"]) >= (11, 7, 0)


def test_statement_splitter_ignores_comments():
    sql = "-- header; with a semicolon\nCREATE TABLE a (x INT);\n\n-- note\nCREATE TABLE b (y INT);\n"
    assert statements(sql) == ["CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"]
