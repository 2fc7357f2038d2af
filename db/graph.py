"""FalkorDB: the client handle and every Cypher query, as named, parameterised functions.

Every query passes a timeout and every traversal has a bounded depth (FalkorDB's own
default is no timeout, and an unbounded `*` explodes on multigraphs). Relationship types
cannot be query parameters, so they come from the fixed whitelist below, never from data.

Edges the operator owns (from inventory.yaml) carry `owned: true`; edges learned from logs
carry `inferred: true`, a confidence and the evidence template ids, and never replace an
owned edge between the same services; edges a Kubernetes cluster says carry `k8s: true`
(db/graph_k8s.py) and give way to owned ones too. Each edge read back names its origin:
inventory, cluster, logs. Runbook documents' nodes and links are db/graph_runbooks.py's.
"""
from __future__ import annotations

import threading

import redis
from falkordb import FalkorDB

DEPENDENCY_TYPES = ("DEPENDS_ON", "CALLS")
OWNED_TYPES = ("RUNS_ON", "DEPENDS_ON", "CALLS", "RELATED_RUNBOOK")
MAX_DEPTH = 4


class GraphUnavailable(RuntimeError):
    """FalkorDB cannot be reached or timed out; retry later (HTTP 503)."""


def _no_nul(value):
    """Parameters with NUL replaced by U+FFFD: the client sends them in a text header that a
    NUL cuts, which broke every later query (issue 15). No node name holds U+FFFD, so such a
    lookup finds nothing instead of failing."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _no_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nul(v) for v in value]
    return value


class Graph:
    """A handle on one named graph; connects on first use (the client talks at construction)."""

    def __init__(self, url: str, name: str = "devmesh", timeout_ms: int = 2000):
        self.url, self.name, self.timeout_ms = url, name, timeout_ms
        self._client: FalkorDB | None = None
        self._lock = threading.Lock()
        self._indexed = False

    @property
    def client(self) -> FalkorDB:
        with self._lock:
            if self._client is None:
                self._client = FalkorDB.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
            return self._client

    def query(self, cypher: str, params: dict | None = None) -> list[list]:
        return self._run(False, cypher, params)

    def read(self, cypher: str, params: dict | None = None) -> list[list]:
        return self._run(True, cypher, params)

    def _run(self, read_only: bool, cypher: str, params: dict | None) -> list[list]:
        try:
            graph = self.client.select_graph(self.name)
            run = graph.ro_query if read_only else graph.query
            return run(cypher, _no_nul(params or {}), timeout=self.timeout_ms).result_set
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            with self._lock:
                self._client = None                    # reconnect next time
            raise GraphUnavailable(f"FalkorDB at {self.url} is unavailable ({exc}); "
                                   "is it running? `devmesh services status`") from exc
        except redis.exceptions.ResponseError as exc:
            if read_only and "empty key" in str(exc).lower():
                return []                              # the graph does not exist yet: nothing to read
            if "timed out" in str(exc).lower():
                raise GraphUnavailable(f"graph query timed out after {self.timeout_ms} ms") from exc
            raise GraphUnavailable(f"FalkorDB refused a query ({str(exc)[:200]}); the topology may need "
                                   "`devmesh load-inventory` again, or this is a bug to report") from exc

    def ping(self) -> str:
        """The redis server version; raises when FalkorDB is unreachable."""
        return self.client.connection.info("server")["redis_version"]

    def drop(self) -> None:
        """Delete this graph (tests, evals)."""
        if self.name in self.client.list_graphs():
            self.client.select_graph(self.name).delete()
        self._indexed = False

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.connection.close()
                self._client = None


def _depth(depth: int) -> int:
    return max(1, min(int(depth), MAX_DEPTH))


def ensure_indexes(graph: Graph) -> None:
    if graph._indexed:
        return
    for label, prop in (("Service", "name"), ("Host", "name"), ("Runbook", "id"), ("Template", "id"),
                        ("Incident", "id")):
        try:
            graph.query(f"CREATE INDEX FOR (n:{label}) ON (n.{prop})")
        except Exception as exc:  # noqa: BLE001 - "already indexed" is the normal case
            if "already indexed" not in str(exc):
                raise
    graph._indexed = True


# ---------------------------------------------------------------------- owned topology

def sync_owned(graph: Graph, hosts: list[dict], services: list[dict], runbooks: list[dict],
               edges: list[dict]) -> dict[str, int]:
    """Make the owned part of the graph equal to the given inventory (MERGE, then delete
    what left it). edges: {source, target, type in OWNED_TYPES, reason}; RUNS_ON targets a
    Host, RELATED_RUNBOOK a Runbook id. Inferred edges are left alone, except that an owned
    dependency replaces an inferred one between the same two services."""
    ensure_indexes(graph)
    graph.query("UNWIND $rows AS h MERGE (n:Host {name: h.name}) "
                "SET n.address = h.address, n.role = h.role, n.owned = true", {"rows": hosts})
    graph.query("UNWIND $rows AS s MERGE (n:Service {name: s.name}) SET n.type = s.type, n.owned = true, "
                "n.aliases = s.aliases, n.units = s.units, n.ports = s.ports", {"rows": services})
    graph.query("UNWIND $rows AS r MERGE (n:Runbook {id: r.id}) SET n.title = r.title, n.path = r.path, "
                "n.owned = true", {"rows": runbooks})
    removed = 0
    for label, key, names in (("Service", "name", [s["name"] for s in services]),
                              ("Host", "name", [h["name"] for h in hosts]),
                              ("Runbook", "id", [r["id"] for r in runbooks])):
        rows = graph.query(f"MATCH (n:{label}) WHERE n.owned = true AND NOT n.{key} IN $keep "
                           "AND coalesce(n.k8s, false) = false DETACH DELETE n RETURN count(n)", {"keep": names})
        removed += rows[0][0] if rows else 0
        graph.query(f"MATCH (n:{label}) WHERE n.owned = true AND NOT n.{key} IN $keep SET n.owned = NULL, "
                    "n.aliases = NULL, n.units = NULL, n.ports = NULL", {"keep": names})
        # (the cluster names it too: it stays, as the cluster's; db/graph_k8s.py)
    existing = {(a, t, b) for a, t, b in graph.read(
        "MATCH (a)-[r]->(b) WHERE r.owned = true RETURN coalesce(a.name, a.id), type(r), coalesce(b.name, b.id)")}
    wanted = {(e["source"], e["type"], e["target"]): e for e in edges}
    for kind in OWNED_TYPES:
        stale = [{"a": a, "b": b} for a, t, b in existing - set(wanted) if t == kind]
        if stale:
            graph.query(f"UNWIND $rows AS e MATCH (a {{name: e.a}})-[r:{kind}]->(b) "
                        "WHERE r.owned = true AND coalesce(b.name, b.id) = e.b DELETE r", {"rows": stale})
            removed += len(stale)
        rows = [{"a": e["source"], "b": e["target"], "reason": e.get("reason") or ""}
                for key, e in wanted.items() if key[1] == kind]
        if not rows:
            continue
        target = {"RUNS_ON": "(b:Host {name: e.b})", "RELATED_RUNBOOK": "(b:Runbook {id: e.b})"}.get(
            kind, "(b:Service {name: e.b})")
        graph.query(f"UNWIND $rows AS e MATCH (a:Service {{name: e.a}}) MATCH {target} "
                    f"MERGE (a)-[r:{kind} {{owned: true}}]->(b) SET r.reason = e.reason", {"rows": rows})
    graph.query("MATCH (a:Service)-[i:DEPENDS_ON]->(b:Service) WHERE (i.inferred = true OR i.k8s = true) "
                "AND (a)-[:DEPENDS_ON|CALLS {owned: true}]->(b) DELETE i")
    graph.query("MATCH (s:Service)-[k:RUNS_ON]->(:Host) WHERE k.k8s = true AND (s)-[:RUNS_ON {owned: true}]->(:Host) "
                "DELETE k")                   # the file places it: the cluster's placement gives way
    return {"hosts": len(hosts), "services": len(services), "runbooks": len(runbooks), "edges": len(edges),
            "removed": removed}


# ---------------------------------------------------------------------- inferred edges

def inferred_edges(graph: Graph) -> list[dict]:
    rows = graph.read("MATCH (a:Service)-[r:DEPENDS_ON]->(b:Service) WHERE r.inferred = true "
                      "RETURN a.name, b.name, r.confidence, r.evidence, r.last_seen, r.reason")
    return [{"source": a, "target": b, "confidence": c, "evidence": list(ev or []), "last_seen": ls, "reason": why}
            for a, b, c, ev, ls, why in rows]


def replace_inferred(graph: Graph, edges: list[dict]) -> dict[str, int]:
    """Make the inferred DEPENDS_ON edges exactly `edges` ({source, target, confidence,
    evidence, last_seen, reason}); owned edges win over inferred ones."""
    ensure_indexes(graph)
    owned = {(a, b) for a, b in graph.read("MATCH (a:Service)-[r:DEPENDS_ON|CALLS]->(b:Service) "
                                           "WHERE r.owned = true RETURN a.name, b.name")}
    edges = [e for e in edges if (e["source"], e["target"]) not in owned]
    current = {(e["source"], e["target"]) for e in inferred_edges(graph)}
    wanted = {(e["source"], e["target"]) for e in edges}
    gone = [{"a": a, "b": b} for a, b in current - wanted]
    if gone:
        graph.query("UNWIND $rows AS e MATCH (a:Service {name: e.a})-[r:DEPENDS_ON]->(b:Service {name: e.b}) "
                    "WHERE r.inferred = true DELETE r", {"rows": gone})
    if edges:
        graph.query("UNWIND $rows AS e MATCH (a:Service {name: e.source}) MATCH (b:Service {name: e.target}) "
                    "WHERE NOT (a)-[:DEPENDS_ON|CALLS {owned: true}]->(b) "
                    "MERGE (a)-[r:DEPENDS_ON {inferred: true}]->(b) "
                    "SET r.confidence = e.confidence, r.evidence = e.evidence, r.last_seen = e.last_seen, "
                    "r.reason = e.reason", {"rows": edges})
    return {"added": len(wanted - current), "removed": len(gone), "kept": len(wanted & current)}


# ---------------------------------------------------------------------- reads

def services(graph: Graph) -> list[dict]:
    rows = graph.read("MATCH (s:Service) OPTIONAL MATCH (s)-[:RUNS_ON]->(h:Host) "
                      "RETURN s.name, s.type, collect(h.name), s.owned ORDER BY s.name")
    return [{"name": n, "type": t, "hosts": sorted(h), "owned": bool(o)} for n, t, h, o in rows]


def origin(props: dict) -> str:
    """Where an edge comes from: "inventory" (inventory.yaml), "cluster" (the Kubernetes API),
    "logs" (learned from log lines), else "graph" (written by something else, e.g. an incident)."""
    return ("inventory" if props.get("owned") else "cluster" if props.get("k8s")
            else "logs" if props.get("inferred") else "graph")


def neighborhood(graph: Graph, name: str, depth: int = 1) -> dict:
    """Nodes and edges within `depth` hops of a Service or Host (either direction). Nodes are
    named by `name` (services, hosts) or `id` (templates and incidents: numbers; runbooks), so
    ordering compares them as text (issue 24: sorting ints beside strings was a 500 as soon as
    an incident linked its templates); each edge names its ends' labels too."""
    rows = graph.read(
        f"MATCH (n) WHERE (n:Service OR n:Host) AND n.name = $name "
        f"MATCH p = (n)-[*1..{_depth(depth)}]-(m) UNWIND relationships(p) AS r WITH DISTINCT r "
        "RETURN labels(startNode(r))[0], coalesce(startNode(r).name, startNode(r).id), type(r), "
        "labels(endNode(r))[0], coalesce(endNode(r).name, endNode(r).id), properties(r)", {"name": name})
    found = graph.read("MATCH (n) WHERE (n:Service OR n:Host) AND n.name = $name RETURN labels(n)[0]",
                       {"name": name})
    if not found:
        return {}
    nodes = {(found[0][0], name)}
    edges = []
    for a_label, a, kind, b_label, b, props in rows:
        nodes.update({(a_label, a), (b_label, b)})
        edges.append({"source": a, "target": b, "type": kind, "source_label": a_label, "target_label": b_label,
                      "inferred": bool(props.get("inferred")), "origin": origin(props),
                      "candidate": bool(props.get("candidate")),
                      "owned": bool(props.get("owned")), "confidence": props.get("confidence"),
                      "reason": props.get("reason") or "", "evidence": list(props.get("evidence") or [])})
    ordered = sorted(nodes, key=lambda node: (node[0], str(node[1])))
    return {"node": name, "nodes": [{"label": lbl, "name": n} for lbl, n in ordered],
            "edges": sorted(edges, key=lambda e: (e["source_label"], str(e["source"]), e["type"],
                                                  e["target_label"], str(e["target"])))}


def _reach(graph: Graph, name: str, outgoing: bool, depth: int) -> list[tuple[str, int]]:
    arrow = (f"(s:Service {{name: $name}})-[:DEPENDS_ON|CALLS*1..{_depth(depth)}]->(u:Service)" if outgoing
             else f"(u:Service)-[:DEPENDS_ON|CALLS*1..{_depth(depth)}]->(s:Service {{name: $name}})")
    rows = graph.read(f"MATCH p = {arrow} WHERE u.name <> $name RETURN u.name, min(length(p)) ORDER BY u.name",
                      {"name": name})
    return [(n, int(h)) for n, h in rows]


def upstream(graph: Graph, name: str, depth: int = MAX_DEPTH) -> list[tuple[str, int]]:
    """What `name` depends on, transitively: (service, hops)."""
    return _reach(graph, name, True, depth)


def downstream(graph: Graph, name: str, depth: int = MAX_DEPTH) -> list[tuple[str, int]]:
    """Who depends on `name`, transitively (its blast radius): (service, hops)."""
    return _reach(graph, name, False, depth)


def near(graph: Graph, names: list[str], depth: int = 2) -> dict[str, int]:
    """Hops from the nearest of `names` to every service within `depth` dependency hops
    (either direction); services sharing a host count as 2 hops. Two queries in all."""
    out = {name: 0 for name in names}
    rows = graph.read(f"MATCH p = (s:Service)-[:DEPENDS_ON|CALLS*1..{_depth(depth)}]-(u:Service) "
                      "WHERE s.name IN $names RETURN u.name, min(length(p))", {"names": names})
    rows += graph.read("MATCH (s:Service)-[:RUNS_ON]->(:Host)<-[:RUNS_ON]-(o:Service) WHERE s.name IN $names "
                       "RETURN DISTINCT o.name, 2", {"names": names})
    for other, hops in rows:
        out[other] = min(out.get(other, int(hops)), int(hops))
    return out


def causal(graph: Graph, name: str, depth: int = 2) -> tuple[dict[str, int], dict[str, int]]:
    """(what `name` depends on, what depends on it) within `depth` hops, each path in one
    direction: service -> hops. Unlike `near`, two dependencies of one caller (siblings) and
    services that merely share a host are not on a chain: one's failure does not explain
    the other's."""
    found: list[dict[str, int]] = []
    for arrow in ("(s:Service {name: $name})-[:DEPENDS_ON|CALLS*1..%d]->(u:Service)",
                  "(u:Service)-[:DEPENDS_ON|CALLS*1..%d]->(s:Service {name: $name})"):
        rows = graph.read(f"MATCH p = {arrow % _depth(depth)} WHERE u.name <> $name RETURN u.name, min(length(p))",
                          {"name": name})
        found.append({other: int(hops) for other, hops in rows})
    return found[0], found[1]


def with_edges(graph: Graph, names: list[str]) -> set[str]:
    """Those of `names` that have at least one dependency edge (written, inferred or from traces)."""
    rows = graph.read("MATCH (s:Service)-[:DEPENDS_ON|CALLS]-(:Service) WHERE s.name IN $names "
                      "RETURN DISTINCT s.name", {"names": names})
    return {name for (name,) in rows}


def co_hosted(graph: Graph, name: str) -> list[tuple[str, str]]:
    """(service, host) pairs sharing a host with `name`."""
    rows = graph.read("MATCH (s:Service {name: $name})-[:RUNS_ON]->(h:Host)<-[:RUNS_ON]-(o:Service) "
                      "WHERE o.name <> $name RETURN DISTINCT o.name, h.name ORDER BY o.name, h.name", {"name": name})
    return [(o, h) for o, h in rows]


def path(graph: Graph, source: str, target: str, depth: int = 6) -> list[str]:
    """Node names of a shortest path between two services or hosts, in either direction.
    FalkorDB has no undirected shortestPath, so this is a bounded BFS over one read of the
    service/host edges (a fleet graph is small)."""
    rows = graph.read("MATCH (a)-[r]->(b) WHERE (a:Service OR a:Host) AND (b:Service OR b:Host) "
                      "RETURN a.name, b.name")
    adjacent: dict[str, set[str]] = {}
    for a, b in rows:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    if source not in adjacent or target not in adjacent:
        return []
    previous: dict[str, str | None] = {source: None}
    frontier = [source]
    for _ in range(max(1, min(int(depth), 8))):
        following = []
        for node in frontier:
            for other in sorted(adjacent[node]):
                if other not in previous:
                    previous[other] = node
                    following.append(other)
        if target in previous:
            out, node = [], target
            while node is not None:
                out.append(node)
                node = previous[node]
            return out[::-1]
        frontier = following
    return []


def runbooks_for(graph: Graph, names: list[str]) -> list[dict]:
    rows = graph.read("MATCH (s:Service)-[e:RELATED_RUNBOOK]->(r:Runbook) WHERE s.name IN $names "
                      "AND coalesce(e.mentioned, false) = false "     # a runbook's text naming it in passing: no
                      "RETURN DISTINCT r.id, r.title, r.path, collect(s.name)", {"names": names})
    return [{"id": i, "title": t, "path": p, "services": sorted(s)} for i, t, p, s in rows]


def record_incident(graph: Graph, incident_id: int, title: str, services: list[str], hosts: list[str],
                    templates: list[dict]) -> None:
    """(:Incident)-[:AFFECTS]->(:Service), -[:OBSERVED_ON]->(:Host), -[:HAS_LOG]->(:Template)
    -[:EMITTED_BY]->(:Service). templates: {id, service}. Idempotent (MERGE)."""
    ensure_indexes(graph)
    graph.query("MERGE (i:Incident {id: $id}) SET i.title = $title", {"id": incident_id, "title": title})
    graph.query("MATCH (i:Incident {id: $id}) UNWIND $names AS n MATCH (s:Service {name: n}) MERGE (i)-[:AFFECTS]->(s)",
                {"id": incident_id, "names": services})
    graph.query("MATCH (i:Incident {id: $id}) UNWIND $names AS n MATCH (h:Host {name: n}) "
                "MERGE (i)-[:OBSERVED_ON]->(h)", {"id": incident_id, "names": hosts})
    graph.query("MATCH (i:Incident {id: $id}) UNWIND $rows AS t MERGE (x:Template {id: t.id}) MERGE (i)-[:HAS_LOG]->(x) "
                "WITH x, t MATCH (s:Service {name: t.service}) MERGE (x)-[:EMITTED_BY]->(s)",
                {"id": incident_id, "rows": templates})


def incident_links(graph: Graph, incident_id: int) -> dict[str, list]:
    rows = graph.read("MATCH (i:Incident {id: $id})-[r]->(n) RETURN type(r), coalesce(n.name, n.id)", {"id": incident_id})
    out: dict[str, list] = {}
    for kind, name in rows:
        out.setdefault(kind, []).append(name)
    return {k: sorted(v) for k, v in out.items()}


def record_metrics(graph: Graph, incident_id: int, snapshots: list[dict]) -> None:
    """(:Incident)-[:HAS_METRIC]->(:MetricSnapshot {id, name, mean, max, change})-[:OF]->(:Service)."""
    ensure_indexes(graph)
    graph.query("MERGE (i:Incident {id: $id}) WITH i UNWIND $rows AS m MERGE (s:MetricSnapshot {id: m.id}) "
                "SET s.name = m.name, s.mean = m.mean, s.max = m.max, s.change = m.change "
                "MERGE (i)-[:HAS_METRIC]->(s) WITH s, m MATCH (svc:Service {name: m.service}) MERGE (s)-[:OF]->(svc)",
                {"id": incident_id, "rows": [{"id": m["id"], "name": m["name"], "mean": m["mean"], "max": m["max"],
                                              "change": m.get("change"), "service": m["service"]} for m in snapshots]})
