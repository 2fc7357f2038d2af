"""Issue 21: a runbook is linked in FalkorDB to the log templates it names (front matter ids
and text fragments, template ids and quoted log lines in its text), and an incident whose
templates a runbook names finds that runbook's section through those links."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from db import runbooks as runbook_sql
from ingest.embedders import HashingEmbedder
from ingest.pipeline import Ingestor
from ingest.templates import template_of
from db.graph import Graph, GraphUnavailable
from retrieval.runbook_templates import TemplateFollower
from retrieval.runbooks import W_TEMPLATE, RunbookQuery, find_sections, ingest_dir
from tests.conftest import record

LINES = {"too_many": "ERROR 1040 (HY000): Too many connections",
         "no_space": "write failed: No space left on device (errno 28) on /var/lib/ledger",
         "login": "session opened for ledger job 7781",
         "refused": "upstream pool: Connection to 10.0.0.9:5432 refused"}
POOL = """# Pool exhausted

Callers wait for a connection.

## 1. Check the pool

```sh
$ tail /var/log/app.log
ERROR 1040 (HY000): Too many connections
```

## 2. Restart the callers

Restart them one at a time.
"""
DISK = """---
templates: ["No space left on device"]
---
# Full volume

## Free space

Delete old archives. Also seen with [template:{login}].
"""
QUOTA = """# Quotas

## Raise the quota

The line `Disk quota exceeded for volume data-7` means the volume's quota is reached.
"""
PLAIN = ("# Coffee machine\n\nDescale it monthly; `systemctl restart coffee` does nothing, nor does "
         "template 12345 of the wiki.\n")                    # in prose, an id no template has: no link


def _edges(graph) -> list:
    return sorted(graph.read("MATCH (t:Template)-[e:RELATED_RUNBOOK]->(r:Runbook) "
                             "RETURN r.id, t.id, e.sections, e.reason"))


def _books(tmp_path: Path) -> Path:
    books = tmp_path / "books"
    books.mkdir()
    (books / "pool.md").write_text(POOL)
    (books / "disk.md").write_text(DISK.replace("{login}", str(template_of(LINES["login"])[0])))
    (books / "quota.md").write_text(QUOTA)
    (books / "plain.md").write_text(PLAIN)
    return books


def test_runbooks_are_linked_to_the_templates_they_name_and_found_through_them(db, graph, tmp_path):
    Ingestor(db).ingest([record(i, service="ledger", message=m) for i, m in enumerate(LINES.values())])
    ids = {k: template_of(m)[0] for k, m in LINES.items()}
    books = _books(tmp_path)
    embedder = HashingEmbedder(64)
    report = ingest_dir(db, graph, embedder, books)
    edges = _edges(graph)
    assert [(r, t, s) for r, t, s, _ in edges] == sorted([
        ("pool", ids["too_many"], ["1-check-the-pool"]),            # a line of its code block
        ("disk", ids["no_space"], []),                              # front matter: the whole document
        ("disk", ids["login"], ["free-space"])])                    # [template:ID] in its text
    assert report.templates_linked == 3
    assert dict(((r, t), why) for r, t, _, why in edges)[("pool", ids["too_many"])].startswith('quotes "ERROR 1040')

    # an incident of another service (no runbook names it), by its template alone, finds the section
    query = RunbookQuery("", ["ledger"], template_ids=[ids["too_many"]])
    hits = find_sections(db, graph, embedder, query)
    assert hits[0]["runbook_section"] == "pool#1-check-the-pool"
    assert hits[0]["components"]["template"] == W_TEMPLATE
    assert any("names the incident's template" in r for r in hits[0]["reasons"])
    assert {h["runbook_id"] for h in hits} == {"pool"}
    others = [h for h in hits if h["section"] != "1-check-the-pool"]
    assert others and all(h["components"]["template"] == W_TEMPLATE / 2 for h in others)
    assert find_sections(db, None, embedder, query) == []                  # only the graph knew it
    disk = find_sections(db, graph, embedder, RunbookQuery("", [], template_ids=[ids["no_space"]]))
    assert {h["runbook_section"] for h in disk} == {"disk#full-volume", "disk#free-space"}
    assert all(h["components"]["template"] == W_TEMPLATE for h in disk)

    # a template learned after the runbook: linked at the next ingest of the unchanged directory
    quota = "Disk quota exceeded for volume data-7 (used 100%)"
    Ingestor(db).ingest([record(9, service="ledger", message=quota)])
    again = ingest_dir(db, graph, embedder, books)
    assert (again.added, again.changed, again.sections_written) == ([], [], 0)
    assert ("quota", template_of(quota)[0], ["raise-the-quota"]) in [(r, t, s) for r, t, s, _ in _edges(graph)]
    assert ingest_dir(db, graph, embedder, books).templates_linked == 4 and len(_edges(graph)) == 4

    # merged since: the learned template the incident cites finds the runbook that named its member
    with db.transaction() as cur:
        cur.execute("INSERT INTO template_merges (from_id, to_id) VALUES (?, ?)", (ids["too_many"], 4242))
    assert runbook_sql.merged_members(db, [4242]) == [ids["too_many"]]
    merged = find_sections(db, graph, embedder, RunbookQuery("", [], template_ids=[4242]))
    assert merged[0]["runbook_section"] == "pool#1-check-the-pool"

    # the quote edited away: its link goes; the file gone: all of its links go
    (books / "pool.md").write_text(POOL.replace("ERROR 1040 (HY000): Too many connections", "(nothing)"))
    (books / "disk.md").unlink()
    ingest_dir(db, graph, embedder, books)
    assert [r for r, _, _, _ in _edges(graph)] == ["quota"]


def test_short_or_unknown_quotes_link_nothing(db, graph, tmp_path):
    """`mariadb` alone, a shell command, a line no log ever had: none names a template."""
    Ingestor(db).ingest([record(0, message="mariadb started"), record(1, message="coffee machine descaled")])
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.md").write_text("# A\n\nRun `mariadb` then `systemctl restart coffee`.\n\n"
                                "```\nsudo journalctl -u mariadb\n```\n\nThe service never says this line.\n")
    report = ingest_dir(db, graph, HashingEmbedder(64), books)
    assert (report.templates_linked, _edges(graph)) == (0, [])


def test_a_runbook_ingested_before_its_lines_were_seen_is_linked_when_they_come(db, graph, tmp_path):
    """The runbooks are ingested at start (make run), the logs come later: the follower links
    each template first stored since to the runbooks quoting it, without another ingest."""
    books = _books(tmp_path)
    embedder = HashingEmbedder(64)
    assert ingest_dir(db, graph, embedder, books).templates_linked == 1        # only disk's [template:ID]
    follower = TemplateFollower(db, graph)
    ingestor = Ingestor(db)
    ingestor.on_new_templates = follower.enqueue
    ingestor.ingest([record(i, service="ledger", message=m) for i, m in enumerate(LINES.values())])
    ids = {k: template_of(m)[0] for k, m in LINES.items()}
    query = RunbookQuery("", ["ledger"], template_ids=[ids["too_many"]])
    assert find_sections(db, graph, embedder, query) == []                   # not linked yet
    assert follower.run() == 2                                                 # the quoted line, the fragment
    assert {(r, t, tuple(s)) for r, t, s, _ in _edges(graph)} == {
        ("pool", ids["too_many"], ("1-check-the-pool",)), ("disk", ids["no_space"], ()), ("disk", ids["login"], ("free-space",))}
    assert find_sections(db, graph, embedder, query)[0]["runbook_section"] == "pool#1-check-the-pool"
    assert follower.run() == 0
    ingestor.ingest([record(20, service="ledger", message=LINES["too_many"])])   # known: nothing new
    assert follower.run() == 0
    assert [r for r, _, _, _ in _edges(graph)] == ["disk", "disk", "pool"]
    # the next ingest finds the same links: nothing to change
    before = _edges(graph)
    assert ingest_dir(db, graph, embedder, books).templates_linked == 3 and _edges(graph) == before

    down = TemplateFollower(db, Graph("redis://127.0.0.1:1", "nowhere", 200))
    quota = "Disk quota exceeded for volume data-7 (used 100%)"
    ingestor.on_new_templates = down.enqueue
    ingestor.ingest([record(21, service="ledger", message=quota)])
    with pytest.raises(GraphUnavailable):
        down.run()
    assert down._pending == {template_of(quota)[0]}                           # kept for the next run


def test_the_runbooks_command_ingests_lists_and_exits_1_on_a_rejected_file(db_urls, db, tmp_path):
    from click.testing import CliRunner

    from db.settings import GraphSettings
    from retrieval.cli import runbooks_cmd
    from tests.conftest import make_settings

    Ingestor(db).ingest([record(0, service="ledger", message=LINES["too_many"])])
    books = tmp_path / "books"
    books.mkdir()
    (books / "pool.md").write_text(POOL)
    settings = make_settings(db_urls)
    graph = Graph(GraphSettings().resolved_url(settings.services), settings.graph.name)
    try:
        out = CliRunner().invoke(runbooks_cmd, ["ingest", str(books)], obj=settings)
        assert out.exit_code == 0, out.output
        summary = json.loads(out.output.strip().splitlines()[-1])
        assert (summary["added"], summary["templates_linked"], summary["graph"]) == (["pool"], 1, "ok")
        assert [r for r, _, _, _ in _edges(graph)] == ["pool"]
        listed = CliRunner().invoke(runbooks_cmd, ["list"], obj=settings)
        assert [json.loads(x)["id"] for x in listed.output.splitlines()] == ["pool"]
        (books / "bad.md").write_text("---\nservices: [api\n---\n# Bad\n")
        again = CliRunner().invoke(runbooks_cmd, ["ingest", str(books)], obj=settings)
        assert again.exit_code == 1 and "rejected: books/bad.md" in again.output
        assert json.loads(again.output.strip().splitlines()[-1])["unchanged"] == ["pool"]
        missing = CliRunner().invoke(runbooks_cmd, ["ingest", str(tmp_path / "nowhere")], obj=settings)
        assert missing.exit_code != 0 and "does not exist" in missing.output
    finally:
        graph.drop()
        graph.close()
