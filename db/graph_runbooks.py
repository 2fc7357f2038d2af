"""FalkorDB: runbook documents (issue 21) in the graph, as named, parameterised Cypher.

A runbook file is (:Runbook {id, title, path, document: true}); the services it names are
(:Service)-[:RELATED_RUNBOOK {document: true, mentioned}]->(:Runbook) (front matter:
mentioned false; its text naming one in passing: true), and the templates it quotes are
(:Template {id})-[:RELATED_RUNBOOK {document: true, sections, reason}]->(:Runbook).
The inventory's own runbook nodes and edges (`owned`, db/graph.py's sync_owned) are never
touched here. retrieval/runbooks.py writes and reads these; retrieval/runbook_templates.py's
follower adds links between ingests.
"""
from __future__ import annotations

from db.graph import Graph, ensure_indexes


def sync_runbook_documents(graph: Graph, docs: list[dict], links: list[dict], gone: list[str],
                           templates: list[dict] | None = None) -> dict[str, int]:
    """Runbook documents (issue 21): (:Runbook {id, title, path, document: true}) and
    (:Service)-[:RELATED_RUNBOOK {document: true, mentioned}]->(:Runbook) for the services
    each names (front matter: mentioned false) or its text mentions (mentioned true), made
    equal to `links` ({runbook, service, mentioned}) for the given docs, and
    (:Template {id})-[:RELATED_RUNBOOK {document: true, sections, reason}]->(:Runbook) made
    equal to `templates` ({runbook, template, sections ([] = the whole document), reason});
    documents in `gone` lose their document edges (and the node, unless the inventory owns
    it). Inventory-owned edges are left alone. Idempotent."""
    ensure_indexes(graph)
    graph.query("UNWIND $rows AS r MERGE (n:Runbook {id: r.id}) SET n.title = r.title, n.path = r.path, "
                "n.document = true", {"rows": [{"id": d["id"], "title": d["title"], "path": d["path"]} for d in docs]})
    ids = [d["id"] for d in docs] + list(gone)
    existing = {(s, r, bool(m)) for s, r, m in graph.read(
        "MATCH (s:Service)-[e:RELATED_RUNBOOK]->(r:Runbook) WHERE e.document = true AND r.id IN $ids "
        "RETURN s.name, r.id, e.mentioned", {"ids": ids})}
    wanted = {(x["service"], x["runbook"], bool(x["mentioned"])) for x in links}
    stale = [{"s": s, "r": r, "m": m} for s, r, m in existing - wanted]
    if stale:
        graph.query("UNWIND $rows AS e MATCH (s:Service {name: e.s})-[x:RELATED_RUNBOOK]->(r:Runbook {id: e.r}) "
                    "WHERE x.document = true AND x.mentioned = e.m DELETE x", {"rows": stale})
    new = [{"s": s, "r": r, "m": m} for s, r, m in wanted - existing]
    if new:
        graph.query("UNWIND $rows AS e MATCH (s:Service {name: e.s}) MATCH (r:Runbook {id: e.r}) "
                    "MERGE (s)-[x:RELATED_RUNBOOK {document: true, mentioned: e.m}]->(r)", {"rows": new})
    have = {(t, r, tuple(sections or []), why) for t, r, sections, why in graph.read(
        "MATCH (t:Template)-[e:RELATED_RUNBOOK]->(r:Runbook) WHERE e.document = true AND r.id IN $ids "
        "RETURN t.id, r.id, e.sections, e.reason", {"ids": ids})}
    want = {(x["template"], x["runbook"], tuple(x["sections"]), x["reason"]) for x in templates or []}
    old_t = [{"t": t, "r": r} for t, r, _, _ in have - want]
    if old_t:
        graph.query("UNWIND $rows AS e MATCH (t:Template {id: e.t})-[x:RELATED_RUNBOOK]->(r:Runbook {id: e.r}) "
                    "WHERE x.document = true DELETE x", {"rows": old_t})
    new_t = [{"t": t, "r": r, "s": list(s), "why": why} for t, r, s, why in want - have]
    if new_t:
        graph.query("UNWIND $rows AS e MERGE (t:Template {id: e.t}) WITH t, e MATCH (r:Runbook {id: e.r}) "
                    "MERGE (t)-[x:RELATED_RUNBOOK {document: true}]->(r) SET x.sections = e.s, x.reason = e.why",
                    {"rows": new_t})
    if gone:
        graph.query("MATCH (r:Runbook) WHERE r.id IN $ids AND r.document = true AND coalesce(r.owned, false) = false "
                    "DETACH DELETE r", {"ids": list(gone)})
        graph.query("MATCH (r:Runbook) WHERE r.id IN $ids SET r.document = false", {"ids": list(gone)})
    return {"linked": len(wanted), "added": len(new), "removed": len(stale), "templates": len(want),
            "templates_added": len(new_t), "templates_removed": len(old_t)}


def runbook_links(graph: Graph, names: list[str]) -> list[tuple[str, str, bool]]:
    """(runbook id, service, only mentioned?) for the services `names`: owned (inventory) and
    front-matter links are not mere mentions."""
    rows = graph.read("MATCH (s:Service)-[e:RELATED_RUNBOOK]->(r:Runbook) WHERE s.name IN $names "
                      "RETURN r.id, s.name, coalesce(e.mentioned, false)", {"names": names})
    return [(r, s, bool(m)) for r, s, m in rows]


def runbook_template_links(graph: Graph, template_ids: list[int]) -> list[tuple[str, int, list[str], str]]:
    """(runbook id, template id, sections ([] = the whole document), reason) for the runbook
    documents that name any of `template_ids`."""
    rows = graph.read("MATCH (t:Template)-[e:RELATED_RUNBOOK]->(r:Runbook) WHERE t.id IN $ids AND e.document = true "
                      "RETURN r.id, t.id, e.sections, e.reason", {"ids": template_ids})
    return [(r, int(t), list(s or []), why or "") for r, t, s, why in rows]


def add_runbook_template_links(graph: Graph, links: list[dict]) -> int:
    """Adds (:Template)-[:RELATED_RUNBOOK {document: true, sections, reason}]->(:Runbook) for
    `links` ({runbook, template, sections, reason}) to runbooks that exist; an edge already
    there is kept as it is (the next ingest makes the set exact again)."""
    if not links:
        return 0
    ensure_indexes(graph)
    graph.query("UNWIND $rows AS e MATCH (r:Runbook {id: e.r}) WHERE r.document = true MERGE (t:Template {id: e.t}) "
                "MERGE (t)-[x:RELATED_RUNBOOK {document: true}]->(r) ON CREATE SET x.sections = e.s, x.reason = e.why",
                {"rows": [{"t": x["template"], "r": x["runbook"], "s": x["sections"], "why": x["reason"]}
                          for x in links]})
    return len(links)
