"""What an alert is about, from its labels and the inventory: (service, host, services).

Prometheus alerts say where they come from rather than what they are about: node-exporter's
`HostDiskFull` carries `instance="mariadb-vm:9100", job="node"`; `job` names the scrape job
(an exporter), `instance` the scraped address. So (issue 24; before, that alert opened an
incident on a service called "node", with nothing to investigate):

- host: the first of `host`, `hostname`, `instance`, `nodename`, `node` that names an
  inventory host, by name (any case; `name.domain` by its first label) or by address, once
  the port (and a URL's scheme and path, `[v6]` brackets) is stripped; else the first one
  given, stripped the same way (unknown names are kept);
- service: the first of `service`, `service_name`, `app`, `application`,
  `app_kubernetes_io_name`, `container`, `unit`, `name` (systemd units), `pod` (also without
  its ReplicaSet/StatefulSet suffixes), `deployment`, `statefulset`, `daemonset`, `job`,
  `namespace` that the inventory's ServiceMap resolves on that host; exporters' jobs
  (`node`, `blackbox`, ...) never name a service. Unknown: the first explicit service label
  (`service` .. `unit`) is kept as given; `job` only when nothing names a host (an alert
  aggregated by job is about that job);
- a host-level alert (a host, no service): the incident covers the services the inventory
  runs on that host, so the investigation looks at them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ingest.inventory import Inventory
from ingest.service_map import ServiceMap
from retrieval.enrich import is_ip

HOST_LABELS = ("host", "hostname", "instance", "nodename", "node")
EXPLICIT_SERVICE_LABELS = ("service", "service_name", "app", "application", "app_kubernetes_io_name",
                           "container", "unit")
SERVICE_LABELS = (*EXPLICIT_SERVICE_LABELS, "name", "pod", "deployment", "statefulset", "daemonset", "job",
                  "namespace")
EXPORTER_JOBS = frozenset({"node", "node-exporter", "node_exporter", "nodeexporter", "blackbox", "blackbox-exporter",
                           "cadvisor", "kube-state-metrics", "kubelet", "windows", "windows-exporter",
                           "process-exporter", "systemd", "smartctl", "ipmi", "snmp", "prometheus", "alertmanager",
                           "pushgateway"})
NAME_MAX = 128


@dataclass
class AlertSubject:
    service: str | None
    host: str | None
    services: list[str] = field(default_factory=list)


def strip_address(value: str) -> str:
    """`mariadb-vm:9100`, `http://10.0.0.18:9100/metrics`, `[fe80::1]:9100` -> the host part."""
    text = value.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].rsplit("@", 1)[-1]
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text


def inventory_host(value: str, inventory: Inventory | None) -> str | None:
    """The inventory host `value` (a label, port and all) names, or None."""
    if inventory is None:
        return None
    bare = strip_address(value)
    known = {h for s in inventory.services.values() for h in s.hosts} | set(inventory.hosts)
    by_name = {h.lower(): h for h in known}
    by_address = {h.address: name for name, h in inventory.hosts.items() if h.address}
    if bare in by_address:
        return by_address[bare]
    if is_ip(bare):
        return None
    return by_name.get(bare.lower()) or by_name.get(bare.split(".", 1)[0].lower())


def _pod_names(pod: str) -> list[str]:
    """`api-7d9f8b6c4-x2x9z` -> itself, `api-7d9f8b6c4`, `api` (ReplicaSet hash, pod suffix)."""
    names, parts = [pod], pod.split("-")
    for cut in (1, 2):
        if len(parts) > cut:
            names.append("-".join(parts[:-cut]))
    return names


def subject(labels: dict[str, str], inventory: Inventory | None, services: ServiceMap | None) -> AlertSubject:
    given = [labels[k] for k in HOST_LABELS if labels.get(k)]
    host = next((h for h in (inventory_host(v, inventory) for v in given) if h), None)
    if host is None and given:
        host = strip_address(given[0])[:NAME_MAX] or None
    service = None
    if services is not None:
        for key in SERVICE_LABELS:
            value = labels.get(key)
            if not value or (key == "job" and value.lower() in EXPORTER_JOBS):
                continue
            for name in (_pod_names(value) if key == "pod" else [value]):
                service = services.resolve(host or "", name)
                if service:
                    break
            if service:
                break
    if service is None:
        service = next((labels[k][:NAME_MAX] for k in EXPLICIT_SERVICE_LABELS if labels.get(k)), None)
    if service is None and not given and labels.get("job") and labels["job"].lower() not in EXPORTER_JOBS:
        service = labels["job"][:NAME_MAX]
    if service is not None:
        return AlertSubject(service, host, [service])
    on_host = sorted(s.name for s in inventory.services.values() if host in s.hosts) if inventory and host else []
    return AlertSubject(None, host, on_host)
