"""Seeded scenarios shared by tests and benchmarks (the golden eval cases will be data)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

CASCADE_T0 = datetime(2026, 1, 20, 10, 0)
CASCADE_INVENTORY = """
hosts:
  db-host: {address: 10.0.0.18}
services:
  mariadb: {type: database, hosts: [db-host], units: [mariadb.service], ports: [3306]}
  api:     {type: api, hosts: [app-host], depends_on: [mariadb]}
  gateway: {type: proxy, hosts: [edge-host], depends_on: [api]}
  reports: {type: worker, hosts: [app-host], depends_on: [api]}
  kernel:  {type: kernel, hosts: [db-host, app-host, edge-host]}
runbooks:
  - {id: disk-full, title: Disk full on a database host, path: runbooks/disk-full.md, services: [mariadb]}
"""


def at(minutes: float) -> str:
    return (CASCADE_T0 + timedelta(minutes=minutes)).isoformat() + "Z"


def cascade() -> list[dict]:
    rng = random.Random(3)
    out = []
    for m in range(-180, 20):
        for i in range(6):
            out.append({"timestamp": at(m + i / 6), "host": "db-host", "service": "mariadb.service", "level": "info",
                        "message": f"[Note] Aborted connection {rng.randrange(99999)} to db: 'app' (Got timeout reading)"})
            out.append({"timestamp": at(m + i / 6 + 0.01), "host": "app-host", "service": "api", "level": "info",
                        "message": f"GET /api/items/{rng.randrange(999)} 200 {rng.randrange(5, 80)}ms"})
            out.append({"timestamp": at(m + i / 6 + 0.02), "host": "edge-host", "service": "gateway", "level": "info",
                        "message": f'10.0.0.{rng.randrange(250)} - - "GET / HTTP/1.1" 200 {rng.randrange(900)}'})
        if m % 3 == 0:
            out.append({"timestamp": at(m + 0.5), "host": "app-host", "service": "api", "level": "error",
                        "message": f"request {rng.randrange(9999)} failed: client closed connection"})
    # the fault: the database disk fills at 10:00, the API fails from 10:02, the gateway from 10:03
    for i in range(20):
        out.append({"timestamp": at(0 + i * 0.4), "host": "db-host", "service": "mariadb.service", "level": "error",
                    "message": f"[ERROR] InnoDB: Write to file ./ibdata1 failed at offset {i * 16384}: "
                               "No space left on device"})
        out.append({"timestamp": at(0.1 + i * 0.4), "host": "db-host", "service": "kernel", "level": "warning",
                    "message": "EXT4-fs warning (device vdb1): ext4_dx_add_entry: Directory index full!"})
    for i in range(120):
        out.append({"timestamp": at(2 + i * 0.1), "host": "app-host", "service": "api", "level": "error",
                    "message": f"query {i} failed: (2013, 'Lost connection to MySQL server during query')"})
    for i in range(90):
        out.append({"timestamp": at(3 + i * 0.12), "host": "edge-host", "service": "gateway", "level": "error",
                    "message": f"upstream timed out (110: Connection timed out) while reading response header, "
                               f"client: 10.0.0.{i % 250}, upstream: \"http://10.0.0.20:8000/api\""})
    return out
