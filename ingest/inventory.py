"""inventory.yaml: the topology the operator owns (hosts, services, dependencies, runbooks).

    hosts:                                  # optional details per host
      mariadb-vm: {address: 10.0.0.18, role: database}
    services:
      mariadb:
        type: database                      # free text; three types mean "the host layer" that every
                                            # co-hosted service runs on: kernel, driver, resolver
        hosts: [mariadb-vm]
        units: [mariadb.service]           # journald units / identifiers that belong to it
        aliases: [mysql, mysqld]
        ports: [3306]                       # optional: lets "10.0.0.18:3306" in a log name it
      devmesh-api:
        type: api
        hosts: [dev-services]
        depends_on: [mariadb, ollama]      # shorthand for DEPENDS_ON edges
    edges:                                  # explicit edges, typed, with an optional reason
      - {from: devmesh-api, to: ollama, type: CALLS, reason: embeddings}
    runbooks:
      - {id: disk-full, title: Disk full on a database host, path: runbooks/disk-full.md, services: [mariadb]}

Validation reports every problem with its file position and a fix: unknown keys, wrong
types, dangling references, duplicate names (also duplicate YAML keys, which a plain YAML
load would silently merge) and ambiguous unit claims. Those refuse the file. Warnings keep
it but are reported (Inventory.warnings; the server lists them in /health and /info): when a
`hosts:` section exists, a service's host missing from it is most likely a typo (a service
on `gpu-nod-1` is a service on a host nothing else knows).
"""
from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EDGE_TYPES = ("DEPENDS_ON", "CALLS")
_SERVICE_KEYS = {"type", "hosts", "units", "aliases", "depends_on", "ports"}
_HOST_KEYS = {"address", "role"}
_EDGE_KEYS = {"from", "to", "type", "reason"}
_RUNBOOK_KEYS = {"id", "title", "path", "services"}
_TOP_KEYS = {"hosts", "services", "edges", "runbooks"}


class InventoryError(ValueError):
    """One message per problem, each `file:line:col: where: what; fix`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Host:
    name: str
    address: str | None = None
    role: str | None = None


@dataclass
class Service:
    name: str
    type: str = "service"
    hosts: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    type: str = "DEPENDS_ON"
    reason: str = ""


@dataclass
class Runbook:
    id: str
    title: str
    path: str = ""
    services: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    hosts: dict[str, Host] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    runbooks: list[Runbook] = field(default_factory=list)
    source: str = "inventory.yaml"
    warnings: list[str] = field(default_factory=list)      # kept, but said (see the module docstring)

    def all_edges(self) -> list[Edge]:
        """Explicit edges plus the `depends_on` shorthand, without repeats."""
        seen: dict[tuple[str, str, str], Edge] = {}
        for edge in self.edges:
            seen[(edge.source, edge.target, edge.type)] = edge
        for service in self.services.values():
            for target in service.depends_on:
                seen.setdefault((service.name, target, "DEPENDS_ON"), Edge(service.name, target, "DEPENDS_ON"))
        return list(seen.values())


class _Reader:
    """Walks a composed YAML tree, keeping positions for every message."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def at(self, node, where: str, message: str, warning: bool = False) -> None:
        mark = node.start_mark if node is not None else None
        pos = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        (self.warnings if warning else self.problems).append(f"{self.source}:{pos}: {where}: {message}")

    def mapping(self, node, where: str) -> list[tuple[yaml.Node, yaml.Node]]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
            return []
        if not isinstance(node, yaml.MappingNode):
            self.at(node, where, "expected a mapping (key: value)")
            return []
        seen: dict[str, yaml.Node] = {}
        pairs = []
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is None:
                self.at(key, where, "keys must be plain names")
                continue
            if name in seen:
                first = seen[name].start_mark
                self.at(key, f"{where}.{name}", f"duplicate name (first at line {first.line + 1}); "
                        "merge the two entries or rename one")
                continue
            seen[name] = key
            pairs.append((key, value))
        return pairs

    def check_keys(self, pairs, allowed: set[str], where: str) -> None:
        for key, _ in pairs:
            if key.value not in allowed:
                hint = difflib.get_close_matches(key.value, sorted(allowed), n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"allowed: {', '.join(sorted(allowed))}"
                self.at(key, f"{where}.{key.value}", f"unknown key; {fix}")

    def scalar(self, node, where: str, kind=str):
        if not isinstance(node, yaml.ScalarNode):
            self.at(node, where, f"expected a {kind.__name__}")
            return None
        value = yaml.safe_load(node.value) if kind is int else node.value
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            self.at(node, where, f"expected a whole number, got {node.value!r}")
            return None
        return value

    def names(self, node, where: str, kind=str) -> list:
        if node is None:
            return []
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for item in items:
            value = self.scalar(item, where, kind)
            if value is not None and value != "":
                out.append((value, item))
        return out


def _suggest(name: str, known) -> str:
    hint = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def parse(text: str, source: str = "inventory.yaml") -> Inventory:
    """Parse and validate; raises InventoryError listing every problem found."""
    reader = _Reader(source)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise InventoryError([f"{source}: not valid YAML: {exc}"]) from None
    inv = Inventory(source=source)
    top = reader.mapping(root, "inventory")
    reader.check_keys(top, _TOP_KEYS, "inventory")
    sections = {key.value: value for key, value in top}
    refs: list[tuple[str, yaml.Node, str]] = []          # (service name, node, where) to resolve

    for key, value in reader.mapping(sections.get("hosts"), "hosts"):
        where = f"hosts.{key.value}"
        pairs = reader.mapping(value, where)
        reader.check_keys(pairs, _HOST_KEYS, where)
        host = Host(key.value)
        for k, v in pairs:
            if k.value in _HOST_KEYS:
                setattr(host, k.value, reader.scalar(v, f"{where}.{k.value}"))
        if host.address:
            try:
                ipaddress.ip_address(host.address)
            except ValueError:
                reader.at(value, f"{where}.address", f"{host.address!r} is not an IP address")
        inv.hosts[host.name] = host

    unit_claims: dict[str, list[tuple[str, yaml.Node]]] = {}
    host_refs: list[tuple[str, str, yaml.Node]] = []      # (service, host, node) to check against hosts:
    name_nodes: dict[str, yaml.Node] = {}
    for key, value in reader.mapping(sections.get("services"), "services"):
        where = f"services.{key.value}"
        pairs = reader.mapping(value, where)
        reader.check_keys(pairs, _SERVICE_KEYS, where)
        fields = {k.value: v for k, v in pairs}
        service = Service(key.value)
        name_nodes[service.name] = key
        if "type" in fields:
            service.type = reader.scalar(fields["type"], f"{where}.type") or "service"
        for attr in ("hosts", "units", "aliases", "depends_on"):
            items = reader.names(fields.get(attr), f"{where}.{attr}")
            setattr(service, attr, [name for name, _ in items])
            if attr == "depends_on":
                refs += [(name, node, f"{where}.depends_on") for name, node in items]
            if attr == "units":
                for name, node in items:
                    unit_claims.setdefault(name, []).append((service.name, node))
            if attr == "hosts":
                host_refs += [(service.name, name, node) for name, node in items]
        service.ports = [p for p, _ in reader.names(fields.get("ports"), f"{where}.ports", int)]
        inv.services[service.name] = service

    names: dict[str, tuple[str, yaml.Node]] = {n: (n, name_nodes[n]) for n in inv.services}
    for service in inv.services.values():
        for alias in service.aliases:
            owner = names.get(alias)
            if owner and owner[0] != service.name:
                reader.at(name_nodes[service.name], f"services.{service.name}.aliases",
                          f"alias '{alias}' is already the name or an alias of '{owner[0]}'; remove one")
            names.setdefault(alias, (service.name, name_nodes[service.name]))
    for unit, claims in unit_claims.items():
        owners = [inv.services[s] for s, _ in claims]
        for i, a in enumerate(owners):
            for b in owners[i + 1:]:
                if a.name != b.name and (not a.hosts or not b.hosts or set(a.hosts) & set(b.hosts)):
                    reader.at(claims[0][1], f"services.{b.name}.units",
                              f"unit '{unit}' is also claimed by '{a.name}' on the same host(s); a log line "
                              "could not be told apart: give each service its own hosts or unit")

    edges_node = sections.get("edges")
    if edges_node is not None and not isinstance(edges_node, yaml.SequenceNode):
        reader.at(edges_node, "edges", "expected a list of {from, to, type, reason}")
    for i, item in enumerate(edges_node.value if isinstance(edges_node, yaml.SequenceNode) else []):
        where = f"edges[{i}]"
        pairs = reader.mapping(item, where)
        reader.check_keys(pairs, _EDGE_KEYS, where)
        fields = {k.value: v for k, v in pairs}
        for required in ("from", "to"):
            if required not in fields:
                reader.at(item, where, f"'{required}' is required")
        if "from" not in fields or "to" not in fields:
            continue
        source, target = reader.scalar(fields["from"], f"{where}.from"), reader.scalar(fields["to"], f"{where}.to")
        kind = reader.scalar(fields["type"], f"{where}.type") if "type" in fields else "DEPENDS_ON"
        if kind not in EDGE_TYPES:
            reader.at(fields.get("type"), f"{where}.type", f"type must be one of {', '.join(EDGE_TYPES)}")
            continue
        refs += [(source, fields["from"], f"{where}.from"), (target, fields["to"], f"{where}.to")]
        if source == target:
            reader.at(item, where, "an edge from a service to itself; remove it")
        inv.edges.append(Edge(source, target, kind, reader.scalar(fields["reason"], f"{where}.reason")
                              if "reason" in fields else ""))

    runbooks_node = sections.get("runbooks")
    if runbooks_node is not None and not isinstance(runbooks_node, yaml.SequenceNode):
        reader.at(runbooks_node, "runbooks", "expected a list of {id, title, path, services}")
    seen_runbooks: set[str] = set()
    for i, item in enumerate(runbooks_node.value if isinstance(runbooks_node, yaml.SequenceNode) else []):
        where = f"runbooks[{i}]"
        pairs = reader.mapping(item, where)
        reader.check_keys(pairs, _RUNBOOK_KEYS, where)
        fields = {k.value: v for k, v in pairs}
        if "id" not in fields or "title" not in fields:
            reader.at(item, where, "'id' and 'title' are required")
            continue
        runbook = Runbook(reader.scalar(fields["id"], f"{where}.id"), reader.scalar(fields["title"], f"{where}.title"),
                          reader.scalar(fields["path"], f"{where}.path") if "path" in fields else "")
        if runbook.id in seen_runbooks:
            reader.at(fields["id"], f"{where}.id", f"duplicate runbook id '{runbook.id}'; ids must be unique")
        seen_runbooks.add(runbook.id)
        items = reader.names(fields.get("services"), f"{where}.services")
        runbook.services = [name for name, _ in items]
        refs += [(name, node, f"{where}.services") for name, node in items]
        inv.runbooks.append(runbook)

    for name, node, where in refs:
        if name is not None and name not in inv.services:
            reader.at(node, where, f"unknown service '{name}'{_suggest(name, inv.services)}; declare it "
                      "under services: or fix the name")
    if inv.hosts:
        for service_name, host, node in host_refs:
            if host not in inv.hosts:
                reader.at(node, f"services.{service_name}.hosts",
                          f"unknown host '{host}'{_suggest(host, inv.hosts)}: not declared under hosts:; fix the "
                          f"name, or declare it (`{host}: {{}}` under hosts:) if '{service_name}' really runs there",
                          warning=True)
    if reader.problems:
        raise InventoryError(reader.problems)
    inv.warnings = reader.warnings
    return inv


def load(path: Path) -> Inventory:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InventoryError([f"{path}: no such file; create it (see inventory.yaml in the repository)"]) from None
    return parse(text, str(path))
