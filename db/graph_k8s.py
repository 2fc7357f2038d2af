"""FalkorDB: the part of the graph a Kubernetes cluster says (beside inventory.yaml's owned
part and the edges learned from logs), as named, parameterised Cypher.

Nodes and edges from the cluster carry `k8s: true`. A node the inventory also owns keeps
the file's properties (the file wins) and loses its `k8s` mark and the cluster's properties
(namespace, kind, workload, k8s_node) when the cluster stops naming it; a DEPENDS_ON
candidate is never added beside an owned dependency between the same two services. Only
edges marked `k8s: true` are ever removed here: the file's (`owned`) and the logs'
(`inferred`) are never touched. Relationship types come from the fixed tuple below, never from data.
"""
from __future__ import annotations

from db.graph import Graph, ensure_indexes

K8S_TYPES = ("RUNS_ON", "DEPENDS_ON")


def sync_k8s(graph: Graph, hosts: list[dict], services: list[dict], edges: list[dict]) -> dict[str, int]:
    """Make the cluster's part of the graph equal to hosts ({name, address, role, k8s_node}),
    services ({name, type, namespace, kind, workload}) and edges ({source, target, type in
    K8S_TYPES, reason, confidence}). Idempotent."""
    ensure_indexes(graph)
    graph.query("UNWIND $rows AS h MERGE (n:Host {name: h.name}) SET n.k8s = true, n.k8s_node = h.k8s_node "
                "WITH n, h WHERE coalesce(n.owned, false) = false SET n.address = h.address, n.role = h.role",
                {"rows": hosts})
    graph.query("UNWIND $rows AS s MERGE (n:Service {name: s.name}) SET n.k8s = true, n.namespace = s.namespace, "
                "n.kind = s.kind, n.workload = s.workload "
                "WITH n, s WHERE coalesce(n.owned, false) = false SET n.type = s.type", {"rows": services})
    removed = 0
    for label, names in (("Service", [s["name"] for s in services]), ("Host", [h["name"] for h in hosts])):
        rows = graph.query(f"MATCH (n:{label}) WHERE n.k8s = true AND NOT n.name IN $keep "
                           "AND coalesce(n.owned, false) = false DETACH DELETE n RETURN count(n)", {"keep": names})
        removed += rows[0][0] if rows else 0
        graph.query(f"MATCH (n:{label}) WHERE n.k8s = true AND NOT n.name IN $keep SET n.k8s = NULL, "
                    "n.k8s_node = NULL, n.namespace = NULL, n.kind = NULL, n.workload = NULL",
                    {"keep": names})          # an owned node the cluster stopped naming: the file's, as it was
    existing = {(a, t, b) for a, t, b in graph.read(
        "MATCH (a:Service)-[r]->(b) WHERE r.k8s = true RETURN a.name, type(r), b.name")}
    wanted = {(e["source"], e["type"], e["target"]): e for e in edges if e["type"] in K8S_TYPES}
    for kind in K8S_TYPES:
        stale = [{"a": a, "b": b} for a, t, b in existing - set(wanted) if t == kind]
        if stale:
            graph.query(f"UNWIND $rows AS e MATCH (a:Service {{name: e.a}})-[r:{kind}]->(b {{name: e.b}}) "
                        "WHERE r.k8s = true DELETE r", {"rows": stale})
            removed += len(stale)
        rows = [{"a": e["source"], "b": e["target"], "reason": e.get("reason") or "",
                 "confidence": e.get("confidence")} for key, e in wanted.items() if key[1] == kind]
        if not rows:
            continue
        target = "(b:Host {name: e.b})" if kind == "RUNS_ON" else "(b:Service {name: e.b})"
        guard = "WHERE NOT (a)-[:DEPENDS_ON|CALLS {owned: true}]->(b) " if kind == "DEPENDS_ON" else ""
        graph.query(f"UNWIND $rows AS e MATCH (a:Service {{name: e.a}}) MATCH {target} {guard}"
                    f"MERGE (a)-[r:{kind} {{k8s: true}}]->(b) SET r.reason = e.reason, r.confidence = e.confidence, "
                    f"r.candidate = {'true' if kind == 'DEPENDS_ON' else 'false'}", {"rows": rows})
    graph.query("MATCH (a:Service)-[r:DEPENDS_ON {k8s: true}]->(b:Service) "
                "WHERE (a)-[:DEPENDS_ON|CALLS {owned: true}]->(b) DELETE r")
    return {"hosts": len(hosts), "services": len(services), "edges": len(wanted), "removed": removed}


def k8s_edges(graph: Graph) -> list[dict]:
    """Every edge the cluster put in the graph: {source, type, target, reason, confidence}."""
    rows = graph.read("MATCH (a:Service)-[r]->(b) WHERE r.k8s = true "
                      "RETURN a.name, type(r), b.name, r.reason, r.confidence ORDER BY a.name, type(r), b.name")
    return [{"source": a, "type": t, "target": b, "reason": why, "confidence": c} for a, t, b, why, c in rows]


def k8s_nodes(graph: Graph) -> list[dict]:
    """Every node the cluster names now: {label, name, owned, type/role, namespace}."""
    rows = graph.read("MATCH (n) WHERE (n:Service OR n:Host) AND n.k8s = true "
                      "RETURN labels(n)[0], n.name, coalesce(n.owned, false), coalesce(n.type, n.role), n.namespace "
                      "ORDER BY labels(n)[0], n.name")
    return [{"label": lbl, "name": n, "owned": bool(o), "kind": k, "namespace": ns} for lbl, n, o, k, ns in rows]
