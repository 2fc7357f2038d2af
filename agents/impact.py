"""Blast radius: who depends on the root cause, and which of them actually show anomalies."""
from __future__ import annotations

from db import graph as cypher
from db.graph import Graph, GraphUnavailable

from agents.scope import Scope


def assess(scope: Scope, graph: Graph | None, root: str | None) -> dict:
    anomalous = {v.name for v in scope.anomalous()}
    downstream: list[tuple[str, int]] = []
    if root and graph is not None and scope.graph_ok:
        try:
            downstream = (cypher.downstream(graph, root, 4)    # the host layer has no edges: what runs on it
                          or [(s, 1) for s in sorted(scope.services) if root in scope.upstream.get(s, ())])
        except GraphUnavailable:
            downstream = []
    reach = {s: h for s, h in downstream}
    impacted = sorted(s for s in reach if s in anomalous)
    # anomalous services the graph does not connect to the root are still part of the incident
    also = sorted(anomalous - set(reach) - ({root} if root else set()))
    return {"root": root, "impacted": impacted, "at_risk": sorted(s for s in reach if s not in anomalous),
            "also_anomalous": also, "hops": reach}
