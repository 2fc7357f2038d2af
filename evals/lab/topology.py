"""The lab's fleet: which software runs where, and which faults apply to which service.

Every service binds its own loopback address (127.0.1.N), so the address a log line names
is the address the inventory gives its host.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Svc:
    name: str            # inventory service name
    host: str            # inventory host name
    unit: str            # what a shipper sends as `service`
    addr: str
    port: int | None
    type: str
    depends_on: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


SERVICES: dict[str, Svc] = {s.name: s for s in (
    Svc("nginx", "edge-1", "nginx.service", "127.0.1.1", 7180, "proxy", ("shop-web",)),
    Svc("shop-web", "web-1", "shop-web.service", "127.0.1.2", 7181, "api", ("mariadb", "stock-api")),
    Svc("stock-api", "stock-1", "stock-api.service", "127.0.1.3", 7182, "api", ("redis",)),
    Svc("redis", "cache-1", "redis-server.service", "127.0.1.4", 7179, "cache", (), ("redis-server",)),
    Svc("mariadb", "db-1", "mariadb.service", "127.0.1.5", 7136, "database", (), ("mysqld", "mariadbd")),
    Svc("fulfil-worker", "jobs-1", "fulfil-worker.service", "127.0.1.6", None, "worker", ("redis",)),
)}

_LISTENING = tuple(n for n, s in SERVICES.items() if s.port)

# fault -> the services it applies to (the target is drawn among them)
FAULTS: dict[str, tuple[str, ...]] = {
    "cpu_hog": tuple(SERVICES),
    "net_delay": _LISTENING,
    "net_loss": _LISTENING,
    "sigstop": tuple(SERVICES),
    "disk_full": ("redis", "mariadb", "shop-web", "fulfil-worker"),
    "port_refused": _LISTENING,
    "code_raise": ("shop-web", "stock-api", "fulfil-worker"),
}

_ROLES = {"proxy": "proxy", "api": "application", "cache": "cache", "database": "database", "worker": "worker"}


def inventory_yaml() -> str:
    """inventory.yaml as the lab's operator would write it."""
    lines = ["# The fault lab's fleet (evals/lab): one loopback address per host.", "", "hosts:"]
    for s in SERVICES.values():
        lines.append(f"  {s.host}: {{address: {s.addr}, role: {_ROLES[s.type]}}}")
    lines += ["", "services:"]
    for s in SERVICES.values():
        lines.append(f"  {s.name}:")
        lines.append(f"    type: {s.type}")
        lines.append(f"    hosts: [{s.host}]")
        lines.append(f"    units: [{s.unit}]")
        if s.aliases:
            lines.append(f"    aliases: [{', '.join(s.aliases)}]")
        if s.port:
            lines.append(f"    ports: [{s.port}]")
        if s.depends_on:
            lines.append(f"    depends_on: [{', '.join(s.depends_on)}]")
    lines.append("")
    return "\n".join(lines)
