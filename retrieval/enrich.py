"""Graph enrichment: dependencies learned from what services log.

A line such as "connection refused to 10.0.0.18:3306" or "upstream ollama timed out",
logged by service A, names service B (by name or alias, by a host and port that B listens
on, or by a host B alone runs on); or A's events nest around B's in shared trace ids. Over a window of rollups, every such reference becomes
an inferred `A -[:DEPENDS_ON {inferred: true}]-> B` edge with a confidence and the ids of
the templates that show it. Each run replaces the inferred set, so an edge whose evidence
has aged out of the window disappears; owned (inventory) edges are never touched.

Direction (issue 24): a server's lines name its clients too (access logs, `client: X`,
`from X port N`, a firewall's `SRC=`), so every mention gets a side (retrieval/direction.py:
a URL, the word before it, an arrow, whether its port is one the inventory says that host
listens on, a served request line, a bare address in a listening writer's line; else the
server). The writer depends on the servers it names, and the clients it names depend on the
writer (unless the writer is of a quiet type: sshd, agents, the kernel are nobody's
dependency here, as they are never a named target). The kernel only observes (firewall,
conntrack lines): its lines give client -> server edges between the parties they name, and
never make the kernel depend on anyone. A host named without a port its services listen on
is the writer itself when it is the writer's own host.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from db import counts, events
from db import graph as cypher
from db.events import EventFilter
from db.graph import Graph
from db.pool import Database
from ingest.inventory import Inventory
from retrieval import traces
from retrieval.direction import CLIENT, SERVER, cue, key_ports, separate_port, side

# how sure one piece of evidence makes us, by how the other service was named
CONFIDENCE = {"address+port": 0.9, "host+port": 0.85, "name": 0.7, "host": 0.5}
_QUIET_TYPES = {"agent", "system", "driver", "kernel", "resolver"}   # not what a mention of a host or name means


OBSERVER_TYPES = {"kernel"}       # writes what crosses its host (firewall, conntrack): not a party to it


@dataclass(frozen=True)
class Reference:
    service: str
    how: str


@dataclass(frozen=True)
class Mention:
    """A service a line names, and the side of the connection it is on (SERVER | CLIENT)."""

    ref: Reference
    role: str


class ReferenceMatcher:
    """Finds the inventory services a log line names."""

    def __init__(self, inv: Inventory):
        self._names: list[tuple[re.Pattern, str]] = []
        for service in inv.services.values():
            if service.type in _QUIET_TYPES:
                continue
            for name in {service.name, *service.aliases}:
                if len(name) >= 4:                               # "db", "api" would match everywhere
                    self._names.append((re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", re.I), service.name))
        # unit names ("ollama" of ollama.service) may be claimed on several hosts: resolved by the line's host
        self._units: list[tuple[re.Pattern, list[tuple[str, frozenset[str]]]]] = []
        claims: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for service in inv.services.values():
            if service.type in _QUIET_TYPES:
                continue
            for unit in service.units:
                bare = unit.rsplit(".", 1)[0] if unit.endswith((".service", ".scope")) else unit
                if len(bare) >= 4 and bare not in {service.name, *service.aliases}:
                    claims.setdefault(bare, []).append((service.name, frozenset(service.hosts)))
        for bare, owners in claims.items():
            self._units.append((re.compile(rf"(?<![\w.-]){re.escape(bare)}(?![\w-])", re.I), owners))
        self._hosts: dict[str, str] = {}                         # host name or address -> host
        for host in {h for s in inv.services.values() for h in s.hosts} | set(inv.hosts):
            self._hosts[host.lower()] = host
            address = inv.hosts[host].address if host in inv.hosts else None
            if address:
                self._hosts[address] = host
        self._ports_of = {service.name: service.ports for service in inv.services.values()}
        self._on_host: dict[str, list[str]] = {}
        self._port: dict[tuple[str, int], str] = {}
        for service in inv.services.values():
            for host in service.hosts:
                if service.type not in _QUIET_TYPES:
                    self._on_host.setdefault(host, []).append(service.name)
                for port in service.ports:
                    self._port[(host, port)] = service.name
        self._endpoint = re.compile(r"(?<![\w.-])([A-Za-z0-9][\w.-]*[A-Za-z0-9]|\d+\.\d+\.\d+\.\d+)(?::(\d{1,5}))?"
                                    r"(?![\w-])")

    def find(self, message: str, host: str | None = None) -> set[Reference]:
        """Services named in `message`; `host` (where the line was logged) settles unit names
        that several hosts' services share."""
        found: set[Reference] = set()
        for pattern, service in self._names:
            if pattern.search(message):
                found.add(Reference(service, "name"))
        for pattern, owners in self._units:
            if pattern.search(message):
                here = [name for name, hosts in owners if host in hosts] if host else []
                if len(here) == 1:
                    found.add(Reference(here[0], "name"))
                elif len(owners) == 1:
                    found.add(Reference(owners[0][0], "name"))
        for m in self._endpoint.finditer(message):
            token, port = m.group(1), m.group(2)
            host = self._hosts.get(token) or self._hosts.get(token.lower())
            if host is None:
                continue
            is_address = is_ip(token)
            if port and (host, int(port)) in self._port:
                found.add(Reference(self._port[(host, int(port))], "address+port" if is_address else "host+port"))
            elif len(self._on_host.get(host, [])) == 1:
                found.add(Reference(self._on_host[host][0], "host"))
        return found


    def mentions(self, message: str, host: str | None = None, writer: str | None = None) -> list[Mention]:
        """The services `message` names, each with its side (retrieval/direction.py), in the
        order they appear; `host` is where the line was logged, `writer` the service that wrote it."""
        writer_listens = bool(writer in self._ports_of and self._ports_of[writer])
        spans: list[tuple[int, int, Reference | None, str | None, int | None, bool]] = []
        for pattern, service in self._names:
            spans += [(m.start(), m.end(), Reference(service, "name"), None, None, False)
                      for m in pattern.finditer(message)]
        for pattern, owners in self._units:
            here = [name for name, hosts in owners if host in hosts] if host else []
            owner = here[0] if len(here) == 1 else owners[0][0] if len(owners) == 1 else None
            if owner:
                spans += [(m.start(), m.end(), Reference(owner, "name"), None, None, False)
                          for m in pattern.finditer(message)]
        for m in self._endpoint.finditer(message):
            token = m.group(1)
            named = self._hosts.get(token) or self._hosts.get(token.lower())
            if named is not None:
                spans.append((m.start(1), m.end(), None, named, int(m.group(2)) if m.group(2) else None, is_ip(token)))
        spans.sort(key=lambda span: (span[0], -span[1]))
        ports = key_ports(message)
        found: list[tuple[str, Reference, tuple[str, int]]] = []     # (what was named, reference, side)
        previous = 0
        for start, end, ref, named, port, address in spans:
            if start < previous:
                continue                                         # inside a mention already read
            before, previous = message[previous:start], end
            if ref is not None:
                found.append((ref.service, ref, side(message, start, end, before, None, None, address=False)))
                continue
            if port is None:
                port = separate_port(message, end, cue(before), ports)
            listening = port is not None and (named, port) in self._port
            if listening:
                ref = Reference(self._port[(named, port)], "address+port" if address else "host+port")
            elif named == host:
                continue                                         # the writer's own host: itself
            elif len(self._on_host.get(named, [])) == 1:
                ref = Reference(self._on_host[named][0], "host")
            else:
                continue
            found.append((named, ref, side(message, start, end, before, listening if port is not None else None,
                                           port, address=True, writer_listens=writer_listens)))
        best: dict[str, tuple[str, int]] = {}                    # a host named twice: its most telling side
        for key, _, (role, strength) in found:
            if key not in best or strength > best[key][1]:
                best[key] = (role, strength)
        out: list[Mention] = []
        for key, ref, _ in found:
            mention = Mention(ref, best[key][0])
            if mention not in out:
                out.append(mention)
        return out


def dependencies(writer: str, writer_type: str, mentions: list[Mention]) -> list[tuple[str, str, str, str]]:
    """(source, target, how, note) dependencies one line shows; `writer` logged it."""
    servers = [m.ref for m in mentions if m.role == SERVER]
    clients = [m.ref for m in mentions if m.role == CLIENT]
    if writer_type in OBSERVER_TYPES:
        out = [(c.service, s.service, min(c.how, s.how, key=CONFIDENCE.get), f"seen by {writer}")
               for c in clients for s in servers]
    else:
        out = [(writer, s.service, s.how, "") for s in servers]
        if writer_type not in _QUIET_TYPES:                     # as elsewhere: never a dependency's target
            out += [(c.service, writer, c.how, "client") for c in clients]
    seen: set[tuple[str, str]] = set()
    unique = []
    for source, target, how, note in out:
        if source != target and (source, target) not in seen:
            seen.add((source, target))
            unique.append((source, target, how, note))
    return unique


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def infer_edges(db: Database, inv: Inventory, since: datetime, until: datetime,
                max_templates: int = 500, examples: int = 2) -> list[dict]:
    """The inferred edges the window's logs support (not yet written to the graph)."""
    matcher = ReferenceMatcher(inv)
    edges: dict[tuple[str, str], dict] = {}
    for service, template_id, _count, _level in counts.active_templates(db, since, until, list(inv.services),
                                                                         max_templates):
        lines = events.examples(db, [template_id], examples,
                                EventFilter(service=[service], since=since, until=until)).get(template_id, [])
        writer_type = inv.services[service].type if service in inv.services else ""
        for line in lines:
            for source, target, how, note in dependencies(service, writer_type,
                                                          matcher.mentions(line["message"], line["host"], service)):
                edge = edges.setdefault((source, target), {
                    "source": source, "target": target, "confidence": 0.0, "evidence": [],
                    "last_seen": int(until.timestamp()),
                    "reason": f"{how}{f' ({note})' if note else ''}: {line['message'][:160]}"})
                if template_id not in edge["evidence"]:
                    # independent pieces of evidence: 1 - prod(1 - c), capped
                    edge["confidence"] = min(0.95, 1 - (1 - edge["confidence"]) * (1 - CONFIDENCE[how]))
                    if len(edge["evidence"]) < 10:
                        edge["evidence"].append(template_id)
    for (caller, callee), n in traces.call_edges(events.trace_spans(db, since, until)).items():
        if n >= 3 and caller in inv.services and callee in inv.services and caller != callee:
            edge = edges.setdefault((caller, callee), {
                "source": caller, "target": callee, "confidence": 0.0, "evidence": [],
                "last_seen": int(until.timestamp()), "reason": f"trace: {caller} calls {callee} in {n} traces"})
            edge["confidence"] = min(0.95, 1 - (1 - edge["confidence"]) * (1 - min(0.9, 0.3 + 0.05 * n)))
    return sorted(edges.values(), key=lambda e: (e["source"], e["target"]))


def refresh_now(db: Database, graph: Graph, inv: Inventory | None, window_s: float) -> dict[str, int] | None:
    """The server's periodic job: refresh_inferred over the last `window_s`, when an inventory is loaded."""
    if inv is None:
        return None
    return refresh_inferred(db, graph, inv, datetime.now(timezone.utc).replace(tzinfo=None), timedelta(seconds=window_s))


def refresh_inferred(db: Database, graph: Graph, inv: Inventory, now: datetime,
                     window: timedelta = timedelta(hours=1)) -> dict[str, int]:
    """Replace the graph's inferred edges with what the last `window` of logs supports."""
    edges = infer_edges(db, inv, now - window, now)
    for edge in edges:
        edge["confidence"] = round(edge["confidence"], 3)
    return cypher.replace_inferred(graph, edges)
