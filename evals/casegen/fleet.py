"""Background traffic of the eval fleet (evals/inventory.yaml), in the real formats of the
software involved: MariaDB, uvicorn, nginx, LiteLLM, Ollama's GIN, Prometheus, Grafana,
sshd, cron, systemd, the kernel (UFW). A case is this background plus a scenario."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

HOSTS = ["mariadb-vm", "dev-services", "llm-gw", "gpu-node-1", "gpu-node-2", "monitoring"]
ADDRESS = {"mariadb-vm": "10.0.0.18", "dev-services": "10.0.0.20", "llm-gw": "10.0.0.30", "gpu-node-1": "10.0.0.41",
           "gpu-node-2": "10.0.0.42", "monitoring": "10.0.0.50"}


@dataclass
class Line:
    ts: datetime
    host: str
    service: str          # what the shipper sends: the unit or identifier
    level: str
    message: str
    trace_id: str | None = None

    def record(self) -> dict:
        out = {"timestamp": self.ts.isoformat(timespec="microseconds") + "Z", "host": self.host,
               "service": self.service, "level": self.level, "message": self.message}
        if self.trace_id:
            out["trace_id"] = self.trace_id
        return out


@dataclass
class Fleet:
    start: datetime                     # first minute of history
    fault: datetime                     # window start (the fault's onset, if any)
    minutes: int                        # total minutes generated
    rng: random.Random
    lines: list[Line] = field(default_factory=list)
    quiet: dict[str, datetime] = field(default_factory=dict)   # unit -> silent from
    load: float = 1.0                   # traffic multiplier

    def at(self, minute: float) -> datetime:
        """A moment relative to the fault (negative = history)."""
        return self.fault + timedelta(minutes=minute)

    def add(self, minute: float, host: str, service: str, level: str, message: str, trace_id: str | None = None):
        # untraced lines get up to a second of jitter; a traced request keeps its exact timing
        ts = self.at(minute) + (timedelta(0) if trace_id else timedelta(microseconds=self.rng.randrange(1_000_000)))
        self.lines.append(Line(ts, host, service, level, message, trace_id))

    def silence(self, unit_at_host: str, minute: float) -> None:
        """`unit@host` says nothing from `minute` on (a hung or crashed process)."""
        self.quiet[unit_at_host] = self.at(minute)

    def _quiet(self, line: Line) -> bool:
        since = self.quiet.get(f"{line.service}@{line.host}")
        return since is not None and line.ts >= since

    def per_minute(self, rate: float) -> int:
        rate *= self.load
        return int(rate) + (1 if self.rng.random() < rate - int(rate) else 0)

    def records(self) -> list[dict]:
        lines = [line for line in self.lines if not self._quiet(line)]
        return [line.record() for line in sorted(lines, key=lambda line: line.ts)]


def _ts(dt: datetime, style: str) -> str:
    if style == "mariadb":
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    if style == "nginx":
        return dt.strftime("%d/%b/%Y:%H:%M:%S +0000")
    if style == "gin":
        return dt.strftime("%Y/%m/%d - %H:%M:%S")
    return dt.isoformat(timespec="milliseconds") + "Z"


PATHS = ["/api/items", "/api/orders", "/query/logs", "/search/templates", "/health", "/api/users"]


def background(f: Fleet) -> None:
    r = f.rng
    first = -(f.fault - f.start).total_seconds() / 60
    minute = first
    while minute < first + f.minutes:
        m = minute
        for _ in range(f.per_minute(2)):
            f.add(m + r.random(), "mariadb-vm", "mariadb.service", "notice",
                  f"{_ts(f.at(m), 'mariadb')} {r.randrange(100, 9999)} [Note] Aborted connection {r.randrange(10**5)} "
                  f"to db: 'app' user: 'api' host: '10.0.0.20' (Got timeout reading communication packets)")
        for _ in range(f.per_minute(4)):
            path = r.choice(PATHS)
            f.add(m + r.random(), "dev-services", "devmesh-api.service", "info",
                  f'10.0.0.{r.randrange(2, 60)}:{r.randrange(30000, 60000)} - "GET {path}/{r.randrange(999)} '
                  f'HTTP/1.1" 200')
        if r.random() < 0.25:
            f.add(m + r.random(), "dev-services", "devmesh-api.service", "error",
                  f"ERROR devmesh.api: client {r.randrange(2, 60)} disconnected before the response was sent")
        for _ in range(f.per_minute(4)):
            f.add(m + r.random(), "dev-services", "nginx.service", "info",
                  f'10.0.0.{r.randrange(2, 250)} - - [{_ts(f.at(m), "nginx")}] "GET {r.choice(PATHS)}/{r.randrange(999)} '
                  f'HTTP/1.1" 200 {r.randrange(200, 9000)} "-" "Mozilla/5.0"')
        for _ in range(f.per_minute(2)):
            f.add(m + r.random(), "llm-gw", "litellm.service", "info",
                  f'INFO:     10.0.0.20:{r.randrange(30000, 60000)} - "POST /v1/chat/completions HTTP/1.1" 200 OK')
        for gpu, unit_host in (("gpu-node-1", "gpu-node-1"), ("gpu-node-2", "gpu-node-2")):
            for _ in range(f.per_minute(1)):
                f.add(m + r.random(), unit_host, "ollama.service", "info",
                      f'[GIN] {_ts(f.at(m), "gin")} | 200 | {r.uniform(0.4, 3.5):10.6f}s |       10.0.0.30 | '
                      f'POST     "/api/chat"')
        if r.random() < 0.3:
            f.add(m + r.random(), "monitoring", "prometheus.service", "info",
                  f'ts={_ts(f.at(m), "iso")} caller=compact.go:523 level=info component=tsdb msg="write block" '
                  f'mint={r.randrange(10**12)} maxt={r.randrange(10**12)} duration={r.randrange(50, 900)}ms')
        if r.random() < 0.8:
            f.add(m + r.random(), "monitoring", "grafana-server.service", "info",
                  f'logger=context userId=1 orgId=1 uname=admin t={_ts(f.at(m), "iso")} level=info '
                  f'msg="Request Completed" method=GET path=/api/ds/query status=200 remote_addr=10.0.0.5 '
                  f'time_ms={r.randrange(5, 90)} size={r.randrange(100, 9000)}')
        if r.random() < 0.15:
            f.add(m + r.random(), "dev-services", "falkordb.service", "info",
                  f"{r.randrange(100, 999)}:M {f.at(m).strftime('%d %b %Y %H:%M:%S')}.{r.randrange(999):03d} * "
                  f"{r.randrange(10, 900)} changes in 300 seconds. Saving...")
        host = r.choice(HOSTS)
        if r.random() < 0.3:
            f.add(m + r.random(), host, "ssh.service", "info",
                  f"Accepted publickey for deploy from 10.0.0.5 port {r.randrange(30000, 60000)} ssh2: "
                  f"ED25519 SHA256:{''.join(r.choice('abcdefghijkLMNOP0123456789') for _ in range(20))}")
        if int(m) % 5 == 0 and minute == m:
            for h in HOSTS:
                f.add(m + 0.02, h, "cron.service", "info",
                      "pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)")
                f.add(m + 0.03, h, "CRON", "info", "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)")
        if r.random() < 0.2:
            f.add(m + r.random(), r.choice(HOSTS), "kernel", "warning",
                  f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:{r.randrange(16, 99)}:{r.randrange(16, 99)}:{r.randrange(16, 99)} "
                  f"SRC=203.0.113.{r.randrange(1, 250)} DST={ADDRESS[host]} LEN=44 TOS=0x00 PREC=0x00 TTL=242 "
                  f"ID={r.randrange(65535)} PROTO=TCP SPT={r.randrange(1024, 65535)} DPT={r.choice([23, 3389, 8080])} "
                  "WINDOW=1024 RES=0x00 SYN URGP=0")
        if int(m) % 15 == 7 and minute == m:
            h = r.choice(HOSTS)
            f.add(m + 0.1, h, "init.scope", "info", "Starting systemd-tmpfiles-clean.service - Cleanup of Temporary "
                  "Directories...")
            f.add(m + 0.12, h, "init.scope", "info", "systemd-tmpfiles-clean.service: Deactivated successfully.")
        if r.random() < 0.1:
            f.add(m + r.random(), r.choice(HOSTS), "devmesh-shipper.service", "info",
                  f'{{"stats": {{"read": {r.randrange(10**5)}, "sent": {r.randrange(10**5)}, "lag_s": {r.random():.2f}}}}}')
        minute += 1
