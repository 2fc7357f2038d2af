"""Migrations: append-only, numbered, and harmless to run again."""
from __future__ import annotations

from db.migrate import applied, available, migrate, statements


def test_migration_runs_twice_harmlessly(db):
    assert migrate(db) == []                   # the fixture already migrated this database
    assert applied(db) == [n for n, _, _ in available()]
    with db.transaction() as cur:              # a half-applied migration (row lost) reruns cleanly
        cur.execute("DELETE FROM schema_migrations")
    assert migrate(db) == [f"{n:04d}_{name}" for n, name, _ in available()]
    assert migrate(db) == []


def test_schema_has_the_contract_tables_and_the_vector_index(db):
    tables = {r[0] for r in db.fetchall("SHOW TABLES")}
    assert {"log_events", "log_templates", "template_counts", "embedding_models", "schema_migrations"} <= tables
    from db.embeddings import ensure_model

    table = ensure_model(db, "probe-model", 8)
    ddl = db.fetchone(f"SHOW CREATE TABLE `{table}`")[1]
    assert "`embedding` vector(8) NOT NULL" in ddl
    assert "VECTOR KEY `embedding`" in ddl and "`DISTANCE`=cosine" in ddl


def test_statement_splitter_ignores_comments():
    sql = "-- header; with a semicolon\nCREATE TABLE a (x INT);\n\n-- note\nCREATE TABLE b (y INT);\n"
    assert statements(sql) == ["CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"]
