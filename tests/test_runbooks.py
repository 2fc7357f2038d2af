"""Runbook documents (issue 21): ingest versioned by content hash, front matter, sections
by heading, links in the graph, retrieval by vector + graph + templates, the HTTP routes."""
from __future__ import annotations

import shutil
from pathlib import Path

from db import runbooks as runbook_sql
from ingest.embedders import HashingEmbedder
from ingest.inventory import parse as parse_inventory
from retrieval.runbook_docs import parse, read_dir
from retrieval.runbooks import RunbookQuery, find_sections, ingest_dir
from retrieval.topology import load_inventory

REPO_RUNBOOKS = Path(__file__).resolve().parent.parent / "runbooks"
INVENTORY = parse_inventory("""
services:
  mariadb: {type: database, hosts: [db-1], aliases: [mysqld]}
  api: {type: api, hosts: [app-1], depends_on: [mariadb]}
  queue: {type: queue, hosts: [app-1]}
""")

QUEUE = """---
services: [queue]
templates: ["consumer lag"]
detectors: [error_spike]
---
Queue backlog
=============

When consumers fall behind.

Drain the backlog
-----------------

1. Scale the consumers.
2. Purge dead letters.
"""


def _tree(tmp_path: Path) -> Path:
    target = tmp_path / "runbooks"
    shutil.copytree(REPO_RUNBOOKS, target)
    (target / "queue.rst").write_text(QUEUE)
    (target / "notes.txt").write_text("Rotate the API keys every quarter.\n")
    return target


def _snapshot(db) -> tuple:
    return (db.fetchall("SELECT id, content_hash, version, ingested_at, gone_at FROM runbook_documents ORDER BY id"),
            db.fetchall("SELECT runbook_id, section, position, content_hash, version, updated_at, gone_at "
                        "FROM runbook_sections ORDER BY runbook_id, section"))


def test_reingesting_an_unchanged_directory_changes_nothing(db, graph, tmp_path):
    directory = _tree(tmp_path)
    load_inventory(graph, INVENTORY)
    embedder = HashingEmbedder(64)
    first = ingest_dir(db, graph, embedder, directory, INVENTORY)
    assert sorted(first.added) == ["db-connections", "disk-full", "gpu-down", "notes", "oom", "queue"]
    assert first.embedded == first.sections_written > 10
    before = _snapshot(db)
    edges = graph.read("MATCH (s:Service)-[e:RELATED_RUNBOOK]->(r:Runbook) RETURN s.name, r.id, e.document")
    again = ingest_dir(db, graph, embedder, directory, INVENTORY)
    assert (again.added, again.changed, again.gone, again.sections_written, again.embedded) == ([], [], [], 0, 0)
    assert _snapshot(db) == before
    assert sorted(graph.read("MATCH (s:Service)-[e:RELATED_RUNBOOK]->(r:Runbook) RETURN s.name, r.id, e.document")) \
        == sorted(edges)
    assert ["queue", "queue", True] in edges            # front matter
    assert ["mariadb", "disk-full", True] in edges      # the text names MariaDB


def test_a_changed_section_alone_is_rewritten_and_removed_ones_are_marked_gone(db, graph, tmp_path):
    directory = _tree(tmp_path)
    embedder = HashingEmbedder(64)
    ingest_dir(db, graph, embedder, directory, INVENTORY)
    before = {(r, s): v for r, s, _, _, v, _, _ in _snapshot(db)[1]}
    text = (directory / "disk-full.md").read_text()
    (directory / "disk-full.md").write_text(text.replace("## 2. Free space safely", "## 2. Free space, carefully")
                                            .replace("## 4. Keep it from coming back", "## 4. Keep it from coming back\n\nAlso alert at 80 %."))
    (directory / "notes.txt").unlink()
    report = ingest_dir(db, graph, embedder, directory, INVENTORY)
    assert (report.changed, report.gone) == (["disk-full"], ["notes"])
    assert report.embedded == report.sections_written == 2             # the renamed one and the edited one
    rows = {(r, s): (v, g) for r, s, _, _, v, _, g in _snapshot(db)[1]}
    assert rows[("disk-full", "2-free-space-safely")][1] is not None                  # gone, kept
    assert rows[("disk-full", "2-free-space-carefully")] == (1, None)
    assert rows[("disk-full", "4-keep-it-from-coming-back")][0] == before[("disk-full", "4-keep-it-from-coming-back")] + 1
    assert rows[("disk-full", "1-find-the-full-filesystem-and-what-filled-it")][0] == 1   # untouched
    assert all(g is not None for (r, _), (_, g) in rows.items() if r == "notes")
    assert [d["id"] for d in runbook_sql.documents(db)] == ["db-connections", "disk-full", "gpu-down", "oom", "queue"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "x.md").write_text("# X\n")
    assert ingest_dir(db, graph, embedder, other, INVENTORY).gone == []      # another directory's stay
    assert len(runbook_sql.documents(db)) == 6
    assert ingest_dir(db, graph, embedder, directory, INVENTORY).embedded == 0   # and keep their vectors


def test_malformed_front_matter_rejects_that_file_only(db, tmp_path):
    directory = tmp_path / "books"
    directory.mkdir()
    (directory / "good.md").write_text("# Good\n\nfine\n")
    (directory / "bad.md").write_text("---\nservices: [api\n---\n# Bad\n")
    (directory / "odd.md").write_text("---\nowner: me\n---\n# Odd\n")
    (directory / "open.md").write_text("---\nservices: [api]\n# never closed\n")
    report = ingest_dir(db, None, HashingEmbedder(64), directory)
    assert report.added == ["good"]
    by_file = {e.split(":")[0]: e for e in report.errors}
    assert set(by_file) == {"books/bad.md", "books/odd.md", "books/open.md"}
    assert "not valid YAML" in by_file["books/bad.md"] and "line 2" in by_file["books/bad.md"]
    assert "owner" in by_file["books/odd.md"] and "use detectors" in by_file["books/odd.md"]
    assert "never closed" in by_file["books/open.md"]
    # a file that turns bad later keeps its last good version rather than vanishing
    (directory / "good.md").write_text("---\nservices: 7\n---\n# Good\n")
    again = ingest_dir(db, None, HashingEmbedder(64), directory)
    assert again.gone == [] and [d["id"] for d in runbook_sql.documents(db)] == ["good"]


def test_sections_by_heading_in_each_format():
    md = parse("a.md", b"# Title\n\nintro\n\n```sh\n# not a heading\n```\n\n## Step one\n\nx\n\n## Step one\n\ny\n")
    assert [(s.section, s.heading) for s in md.sections] == [("title", "Title"), ("step-one", "Step one"),
                                                             ("step-one-2", "Step one")]
    assert "# not a heading" in md.sections[0].body
    rst = parse("q.rst", QUEUE.encode())
    assert (rst.title, rst.services, rst.templates, rst.detectors) == ("Queue backlog", ["queue"], ["consumer lag"],
                                                                       ["error_spike"])
    assert [s.section for s in rst.sections] == ["queue-backlog", "drain-the-backlog"]
    text = parse("n.txt", b"just words\n")
    assert (text.title, [s.body for s in text.sections]) == ("n", ["just words"])


def test_a_runbook_that_names_a_service_is_found_for_its_incident(db, graph, tmp_path):
    directory = _tree(tmp_path)
    load_inventory(graph, INVENTORY)
    embedder = HashingEmbedder(256)
    ingest_dir(db, graph, embedder, directory, INVENTORY)
    hits = find_sections(db, graph, embedder, RunbookQuery("consumer lag growing on orders topic", ["queue"],
                                                           template_texts=["Consumer lag <NUM> on topic <*>"],
                                                           detectors=["error_spike"]))
    assert hits[0]["runbook_id"] == "queue"
    assert hits[0]["components"]["service"] > 0 and hits[0]["components"]["template"] > 0
    assert hits[0]["components"]["detector"] > 0
    disk = find_sections(db, graph, embedder, RunbookQuery("No space left on device: binary log write failed",
                                                           ["mariadb"]))
    assert disk[0]["runbook_id"] == "disk-full"
    unrelated = {h["runbook_id"] for h in find_sections(db, graph, embedder, RunbookQuery("", ["api"], k=50))}
    assert "queue" not in unrelated and "disk-full" not in unrelated     # nothing links them to api
    assert read_dir(directory)[1] == []


class _DownEmbedder(HashingEmbedder):
    """An embedding model server that stopped answering (after the ingest)."""

    def embed(self, texts):
        raise ConnectionError("embedding server down")


def test_a_failing_embedder_costs_only_the_semantic_part(db, graph, tmp_path):
    directory = _tree(tmp_path)
    ingest_dir(db, graph, HashingEmbedder(64), directory, INVENTORY)
    hits = find_sections(db, graph, _DownEmbedder(64), RunbookQuery("consumer lag", ["queue"]))
    assert hits and hits[0]["runbook_id"] == "queue" and hits[0]["components"]["semantic"] == 0
