"""A Kubernetes cluster's lists -> the graph's hosts, services and edges (pure, no I/O).

- Nodes are hosts (address: the InternalIP; role: its `node-role.kubernetes.io/*` labels).
- Workloads are services: a pod belongs to its controller (ownerReferences with
  `controller: true`), a ReplicaSet's pods to the ReplicaSet's Deployment; StatefulSets and
  DaemonSets own their pods; a pod with no controller is its own service. Pods of Jobs and
  finished pods are left out (a new name every run would churn the graph). A workload's name alone names its service,
  `namespace/name` when the same name is used in several namespaces.
- Namespaces: when the snapshot has the namespace list, what lives in a namespace that is
  gone from it or `Terminating` is left out (its objects' own deletions follow later).
- A pod whose ReplicaSet is not (yet) in the snapshot (the watches of the two lists run
  apart) still belongs to its Deployment: the ReplicaSet's name is the Deployment's name
  and the pod's `pod-template-hash` label.
- `RUNS_ON`: a workload's service -> every node one of its pods is scheduled on.
- DEPENDS_ON candidates: a workload whose pod template (or pod) has an environment value
  naming a Service (`postgres`, `postgres:5432`, `http://checkout.shop.svc.cluster.local:8080`,
  `name.namespace`) depends on the workloads that Service's selector picks.
- The inventory file wins where both speak: a workload the inventory names (by name, alias,
  or `namespace/name` alias) is that inventory service, with the file's type and hosts (the
  cluster adds no RUNS_ON to a service the file places); a node the inventory declares (by
  name, or by address) keeps the file's name, address and role. Such services and nodes are
  in the topology too, so the graph marks them as also the cluster's (db/graph_k8s.py).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingest.inventory import Inventory
from ingest.kube_refs import KubeIndex

CANDIDATE_CONFIDENCE = 0.6
_HOSTLIKE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass
class KubeTopology:
    hosts: list[dict] = field(default_factory=list)       # {name, address, role}
    services: list[dict] = field(default_factory=list)    # {name, type, namespace, kind, workload}
    edges: list[dict] = field(default_factory=list)       # {source, target, type, reason, confidence?}
    index: KubeIndex = field(default_factory=KubeIndex)
    namespaces: list[str] = field(default_factory=list)
    workloads: int = 0                                    # the inventory's own ones included

    def counts(self) -> dict[str, int]:
        return {"namespaces": len(self.namespaces), "nodes": len(self.hosts), "workloads": self.workloads,
                "pods": len(self.index.pods), "runs_on": sum(e["type"] == "RUNS_ON" for e in self.edges),
                "depends_on_candidates": sum(e["type"] == "DEPENDS_ON" for e in self.edges)}


def _meta(item: dict) -> dict:
    return item.get("metadata") or {}


def _controller(item: dict) -> tuple[str, str] | None:
    for ref in _meta(item).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("kind") and ref.get("name"):
            return ref["kind"], ref["name"]
    return None


def _inventory_names(inventory: Inventory | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if inventory is not None:
        for service in inventory.services.values():
            for name in (service.name, *service.aliases):
                out.setdefault(name.lower(), service.name)
    return out


def _hosts(nodes: list[dict], inventory: Inventory | None) -> tuple[list[dict], dict[str, str]]:
    """(host rows, node name -> host name)."""
    declared = inventory.hosts if inventory is not None else {}
    by_address = {h.address: name for name, h in declared.items() if getattr(h, "address", None)}
    rows, names = [], {}
    for node in nodes:
        name = _meta(node).get("name")
        if not name:
            continue
        addresses = {a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []
                     if isinstance(a, dict)}
        address = addresses.get("InternalIP") or addresses.get("ExternalIP")
        host = name if name in declared else by_address.get(address, name)
        names[name] = host
        roles = sorted(k.split("/", 1)[1] for k in (_meta(node).get("labels") or {})
                       if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
        rows.append({"name": host, "address": address, "role": ",".join(roles) or "node", "k8s_node": name})
    return rows, names


def _env_values(spec: dict) -> list[tuple[str, str]]:
    """(variable, value) of every container's literal env values (valueFrom is not read)."""
    out = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for env in (container or {}).get("env") or []:
            if isinstance(env, dict) and isinstance(env.get("value"), str) and env.get("name"):
                out.append((env["name"], env["value"]))
    return out


def _hostnames(value: str) -> set[str]:
    """Host names a configuration value may hold: a URL's host, `host:port`, comma lists."""
    out = set()
    for part in re.split(r"[,\s;]+", value.strip().lower()):
        if not part:
            continue
        host = urlsplit(part).hostname if "://" in part else part.split("/", 1)[0].rsplit(":", 1)[0]
        if host and _HOSTLIKE.fullmatch(host):
            out.add(host)
    return out


def build(snapshot: dict, inventory: Inventory | None = None) -> KubeTopology:
    """The topology a snapshot (retrieval/kube_api.KubeClient.snapshot) describes."""
    replicasets = {(_meta(rs).get("namespace"), _meta(rs).get("name")): _controller(rs)
                   for rs in snapshot.get("replicasets") or []}
    listed = snapshot.get("namespaces")
    live = None if listed is None else {_meta(ns).get("name") for ns in listed
                                        if (ns.get("status") or {}).get("phase") != "Terminating"}

    def here(item: dict) -> bool:
        return live is None or (_meta(item).get("namespace") or "default") in live

    deployments = {(_meta(d).get("namespace") or "default", _meta(d).get("name"))
                   for d in snapshot.get("deployments") or []}
    workloads: dict[tuple[str, str, str], dict] = {}       # (namespace, kind, name) -> {labels, env, pods, nodes}

    def workload(namespace: str, kind: str, name: str) -> dict:
        return workloads.setdefault((namespace, kind, name), {"env": [], "pods": [], "nodes": set(), "labels": []})

    for kind, key in (("Deployment", "deployments"), ("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")):
        for item in snapshot.get(key) or []:
            meta = _meta(item)
            if not meta.get("name") or not here(item):
                continue
            template = ((item.get("spec") or {}).get("template") or {})
            entry = workload(meta.get("namespace") or "default", kind, meta["name"])
            entry["env"] += _env_values(template.get("spec") or {})
            entry["labels"].append(_meta(template).get("labels") or {})
    for pod in snapshot.get("pods") or []:
        meta = _meta(pod)
        owner = _controller(pod)
        if not meta.get("name") or (owner and owner[0] in ("Job", "CronJob")) or not here(pod) or \
                (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue                                  # batch runs and finished pods: a new name every run
        namespace = meta.get("namespace") or "default"
        if owner and owner[0] == "ReplicaSet":
            suffix = f"-{(meta.get('labels') or {}).get('pod-template-hash')}"
            guess = owner[1][: -len(suffix)] if owner[1].endswith(suffix) and len(owner[1]) > len(suffix) else None
            owner = replicasets.get((namespace, owner[1])) or (
                ("Deployment", guess) if (namespace, guess) in deployments else owner)
        kind, name = owner or ("Pod", meta["name"])
        entry = workload(namespace, kind, name)
        entry["pods"].append(meta["name"])
        entry["labels"].append(meta.get("labels") or {})
        entry["env"] += _env_values(pod.get("spec") or {})
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            entry["nodes"].add(node)

    spread = defaultdict(set)
    for namespace, _kind, name in workloads:
        spread[name].add(namespace)
    known = _inventory_names(inventory)
    service_of: dict[tuple[str, str, str], str] = {}
    for namespace, kind, name in workloads:
        own = name if len(spread[name]) == 1 else f"{namespace}/{name}"
        service_of[(namespace, kind, name)] = (known.get(f"{namespace}/{name}".lower()) or known.get(own.lower())
                                               or own)

    topo = KubeTopology(namespaces=sorted({ns for ns, _k, _n in workloads}), workloads=len(workloads))
    topo.hosts, node_host = _hosts(snapshot.get("nodes") or [], inventory)
    placed = {s.name for s in inventory.services.values() if s.hosts} if inventory is not None else set()
    runs_on = set()
    for key, entry in sorted(workloads.items()):
        namespace, kind, name = key
        service = service_of[key]
        if service not in {s["name"] for s in topo.services}:      # the file's too: marked, its type kept
            topo.services.append({"name": service, "type": kind.lower(), "namespace": namespace, "kind": kind,
                                  "workload": name})
        topo.index.workloads[(namespace, name)] = service
        for pod in entry["pods"]:
            topo.index.pods[(namespace, pod)] = service
        if service not in placed:
            runs_on |= {(service, node_host.get(node, node)) for node in entry["nodes"]}
    topo.edges = [{"source": s, "target": h, "type": "RUNS_ON", "reason": "a pod of it is scheduled there"}
                  for s, h in sorted(runs_on)]

    # Services: their selectors pick workloads; their DNS names point at those workloads
    fronts: dict[str, set[str]] = defaultdict(set)                  # DNS name -> services (namespace-scoped below)
    for item in snapshot.get("services") or []:
        meta, spec = _meta(item), item.get("spec") or {}
        selector = spec.get("selector") or {}
        if not meta.get("name") or not selector or not here(item):
            continue                                                 # no selector: endpoints managed elsewhere
        namespace = meta.get("namespace") or "default"
        picked = {service_of[key] for key, entry in workloads.items() if key[0] == namespace
                  and any(all(labels.get(k) == v for k, v in selector.items()) for labels in entry["labels"])}
        if len(picked) == 1:
            topo.index.workloads.setdefault((namespace, meta["name"]), next(iter(picked)))
        for dns in (f"{meta['name']}.{namespace}", f"{meta['name']}.{namespace}.svc",
                    f"{meta['name']}.{namespace}.svc.cluster.local"):
            fronts[dns] |= picked
        fronts[f"{namespace}\x00{meta['name']}"] |= picked         # the short name, from its own namespace only
    candidates: dict[tuple[str, str], str] = {}
    for key, entry in sorted(workloads.items()):
        source = service_of[key]
        for variable, value in entry["env"]:
            for host in _hostnames(value):
                for target in sorted(fronts.get(host, set()) | fronts.get(f"{key[0]}\x00{host}", set())):
                    if target != source:
                        candidates.setdefault((source, target), f"env {variable} of {key[1]} {key[0]}/{key[2]} "
                                                                f"names Service {host}")
    topo.edges += [{"source": a, "target": b, "type": "DEPENDS_ON", "reason": why, "confidence": CANDIDATE_CONFIDENCE}
                   for (a, b), why in sorted(candidates.items())]

    for (namespace, name), service in topo.index.workloads.items():
        if len(spread.get(name, {namespace})) <= 1:
            topo.index.names.setdefault(name.lower(), service)
        topo.index.names.setdefault(f"{namespace}/{name}".lower(), service)
    return topo
