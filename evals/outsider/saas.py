"""Family "saas": a small SaaS fleet on 4-6 hosts, about 2 hours of history, no trigger.

nginx (access + error log), a gunicorn/Django app, a Go worker, PostgreSQL, Redis, RabbitMQ,
cron, systemd, sshd, the kernel. Per case the RNG first picks the fleet and the scenario
(a fault with its root cause, or a no-fault control); then the fleet is simulated second
by second of its traffic with the scenario applied from window.start.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from evals.outsider.common import Log, dt, hexid, iso_z, ms_of, pick_balanced

SCENARIOS = ["db-connections", "redis-oom", "disk-alarm", "crash-loop", "upstream-down", "slow-disk",
             "silent-worker", "oom-kill", "control-restart", "control-backup", "control-surge", "control-upgrade"]

PRODUCTS = ["quill", "tally", "ferro", "lumen", "orbit", "nimbus", "cobalt", "juniper", "pylon", "sable", "vesta", "wren"]
NOUNS = [["invoices", "customers", "payments"], ["projects", "tasks", "comments"], ["tickets", "agents", "macros"],
         ["documents", "folders", "shares"], ["forms", "responses", "fields"], ["surveys", "panels", "answers"],
         ["bookings", "rooms", "guests"], ["campaigns", "contacts", "lists"]]
HOST_STYLES = [
    lambda role, i: f"{role}-{i:02d}",
    lambda role, i: f"fra1-{role}-{i}",
    lambda role, i: f"prod-{role}{i}",
    lambda role, i: f"{role}{i}.internal",
    lambda role, i: f"ams-{role}-{i:02d}",
]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
       "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
       "python-requests/2.31.0", "Zapier", "okhttp/4.12.0"]


def clf(ms: float) -> str:
    return dt(ms).strftime("%d/%b/%Y:%H:%M:%S +0000")


class Fleet:
    def __init__(self, rng: random.Random, scenario: str) -> None:
        r = self.rng = rng
        self.scenario = scenario
        style = r.choice(HOST_STYLES)
        self.product = r.choice(PRODUCTS)
        self.nouns = r.choice(NOUNS)
        n_hosts = r.randint(4, 6)
        self.lb = style(r.choice(["lb", "edge", "proxy", "web"]), 1)
        self.apps = [style(r.choice(["app"]), i + 1) for i in range(2 if n_hosts >= 5 else 1)]
        self.db = style(r.choice(["db", "pg", "sql"]), 1)
        if n_hosts == 6:
            self.cache, self.mq = style("cache", 1), style("mq", 1)
            self.worker_host = style("worker", 1)
        elif n_hosts == 5:
            self.cache = self.mq = style(r.choice(["broker", "queue", "svc"]), 1)
            self.worker_host = self.apps[-1]
        else:
            self.cache = self.mq = style(r.choice(["broker", "queue", "svc"]), 1)
            self.worker_host = self.cache
        self.hosts = sorted({self.lb, *self.apps, self.db, self.cache, self.mq, self.worker_host})
        self.ip = {h: f"10.{r.randint(0, 30)}.{r.randint(0, 9)}.{10 + i * r.randint(1, 9)}" for i, h in enumerate(self.hosts)}
        self.app_name = r.choice([f"{self.product}-web", f"{self.product}", "webapp", f"{self.product}-api", "portal"])
        self.worker_name = r.choice([f"{self.product}-worker", "jobrunner", f"{self.product}d", "worker", "taskd"])
        self.app_unit = f"{self.app_name}.service"
        self.worker_unit = f"{self.worker_name}.service"
        self.pg_ver = r.choice([13, 14, 15, 16])
        self.pg_prefix = r.choice(["debian", "pgbadger", "plain"])
        self.db_name = r.choice([f"{self.product}", f"{self.product}_prod", "app", "main"])
        self.rate = r.uniform(0.18, 0.4)       # nginx requests per second at the daily mean
        self.app_logs = r.uniform(0.25, 0.6)    # share of requests the app logs a line for
        self.wfmt = r.choice(["slog", "zap"])
        self.sock = r.choice([True, False])
        self.gunicorn_ver = r.choice(["20.1.0", "21.2.0", "22.0.0"])
        self.redis_ver = r.choice(["6.2.14", "7.0.15", "7.2.4"])
        self.rmq_conn_per_publish = r.random() < 0.6
        self.pids = {h: r.randint(800, 4000) for h in self.hosts}
        self.nginx_pid = r.randint(700, 2000)
        self.gpid = {h: r.randint(900, 3000) for h in self.apps}
        self.gworkers = {h: [self.gpid[h] + k + 1 for k in range(r.choice([2, 3, 4]))] for h in self.apps}
        self.rpid = r.randint(600, 1200)
        self.pg_pid_next = r.randint(10000, 30000)
        self.log = Log()
        self.root_levels: list[str] = []
        self.effects: set[str] = set()

    # ---------------------------------------------------------------- writers
    def add(self, ms, host, service, level, msg, source=None, root=False, effect=None):
        self.log.add(ms, host, service, level, msg, source=source)
        if self.t_fault <= ms <= self.t_end:
            if root:
                self.root_levels.append(level)
            if effect:
                self.effects.add(effect)

    def pg(self, ms, level_word, text, user=None, pid=None, root_flag=True, client=None):
        d = dt(ms)
        pid = pid or self.rng.randint(10000, 60000)
        stamp = d.strftime("%Y-%m-%d %H:%M:%S.") + f"{d.microsecond // 1000:03d} UTC"
        u = user or ""
        dbn = self.db_name if user else ""
        if self.pg_prefix == "debian":
            pre = f"{stamp} [{pid}] " + (f"{u}@{dbn} " if user else "")
        elif self.pg_prefix == "pgbadger":
            pre = f"{d.strftime('%Y-%m-%d %H:%M:%S')} UTC [{pid}]: [{self.rng.randint(1, 9)}-1] user={u},db={dbn},app={'' if not user else user},client={client or ('' if not user else self.ip[self.apps[0]])} "
        else:
            pre = f"{stamp} [{pid}] "
        lv = {"LOG": "info", "ERROR": "error", "FATAL": "error", "WARNING": "warning", "DETAIL": "info", "STATEMENT": "info",
              "HINT": "info", "PANIC": "critical"}[level_word]
        self.add(ms, self.db, "postgresql", lv, f"{pre}{level_word}:  {text}",
                 source=f"/var/log/postgresql/postgresql-{self.pg_ver}-main.log", root=self.root_svc == "postgres")

    def redis(self, ms, mark, text):
        d = dt(ms)
        stamp = d.strftime("%d %b %Y %H:%M:%S.") + f"{d.microsecond // 1000:03d}"
        lv = {"*": "info", "#": "warning", "-": "debug", ".": "debug"}[mark]
        self.add(ms, self.cache, "redis-server.service", lv, f"{self.rpid}:M {stamp} {mark} {text}", root=self.root_svc == "redis")

    def rmq(self, ms, level, text):
        d = dt(ms)
        stamp = d.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
        pid = f"<0.{self.rng.randint(200, 30000)}.0>"
        self.add(ms, self.mq, "rabbitmq", {"info": "info", "warning": "warning", "error": "error", "notice": "info"}[level],
                 f"{stamp} [{level}] {pid} {text}", source=f"/var/log/rabbitmq/rabbit@{self.mq.split('.')[0]}.log",
                 root=self.root_svc == "rabbitmq")

    def gunicorn(self, ms, host, level, text, pid=None):
        d = dt(ms)
        pid = pid or self.gpid[host]
        lw = {"info": "INFO", "error": "ERROR", "critical": "CRITICAL", "warning": "WARNING"}[level]
        self.add(ms, host, self.app_unit, level, f"[{d.strftime('%Y-%m-%d %H:%M:%S')} +0000] [{pid}] [{lw}] {text}",
                 root=self.root_svc == "app" and (self.root_host is None or host == self.root_host), effect="app" if level in ("error", "critical") else None)

    def django(self, ms, host, level, logger, text):
        d = dt(ms)
        lw = {"info": "INFO", "warning": "WARNING", "error": "ERROR"}[level]
        self.add(ms, host, self.app_unit, level, f"{d.strftime('%Y-%m-%d %H:%M:%S')},{d.microsecond // 1000:03d} {lw} [{logger}] {text}",
                 root=self.root_svc == "app" and (self.root_host is None or host == self.root_host), effect="app" if level != "info" else None)

    def worker(self, ms, level, msg, **fields):
        d = dt(ms)
        if self.wfmt == "slog":
            fields.pop("_caller", None)
            parts = [f"time={d.strftime('%Y-%m-%dT%H:%M:%S.')}{d.microsecond // 1000:03d}Z", f"level={ {'info': 'INFO', 'warning': 'WARN', 'error': 'ERROR', 'debug': 'DEBUG'}[level]}",
                     f'msg="{msg}"' if " " in msg else f"msg={msg}"]
            for k, v in fields.items():
                s = str(v)
                parts.append(f'{k}="{s}"' if (" " in s or '"' in s) else f"{k}={s}")
            text = " ".join(parts)
        else:
            import json
            rec = {"level": {"warning": "warn"}.get(level, level), "ts": d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z",
                   "caller": fields.pop("_caller", "worker/consumer.go:88"), "msg": msg}
            rec.update(fields)
            text = json.dumps(rec, separators=(",", ":"))
        self.add(ms, self.worker_host, self.worker_unit, level, text, root=self.root_svc == "worker",
                 effect="worker" if level in ("warning", "error") else None)

    def raw(self, ms, host, service, level, text, source=None, effect=None):
        self.add(ms, host, service, level, text, source=source, effect=effect,
                 root=(self.root_svc == "kernel-host" and host == self.root_host and service == "kernel"))

    def nginx_err(self, ms, level, text):
        d = dt(ms)
        self.add(ms, self.lb, "nginx", level, f"{d.strftime('%Y/%m/%d %H:%M:%S')} [{ {'warning': 'warn'}.get(level, level)}] "
                 f"{self.nginx_pid}#{self.nginx_pid}: {text}", source="/var/log/nginx/error.log",
                 effect="nginx" if level == "error" else None)

    def systemd(self, ms, host, level, text):
        self.add(ms, host, "systemd", level, text, root=(self.root_svc == "worker" and host == self.worker_host and self.worker_unit in text)
                 or (self.root_svc == "app" and host == self.root_host and self.app_unit in text))

    # ---------------------------------------------------------------- state
    def frac(self, t):
        """Diurnal traffic factor."""
        h = dt(t).hour + dt(t).minute / 60
        import math
        return 0.55 + 0.45 * max(0.0, math.sin((h - 6) / 24 * 2 * math.pi)) + 0.15

    def run(self, start: float, t_fault: float, end: float, scenario: str, low_rate: float = 1.0) -> None:
        r = self.rng
        self.t_fault, self.t_end = t_fault, end
        self.start = start
        s = scenario
        self.surge = r.uniform(3.0, 5.0) if s == "control-surge" else 1.0
        self.surge_end = t_fault + r.uniform(15, 22) * 60000
        self.rr = 0
        # the scenario's own lines first: its restarts and outages are then known to the traffic
        getattr(self, "sc_" + s.replace("-", "_"))(t_fault, end)
        # request stream
        t = start
        base = self.rate * low_rate
        while t < end:
            rate = base * self.frac(t) * (self.surge if t_fault <= t < self.surge_end else 1.0)
            t += r.expovariate(rate) * 1000
            if t >= end:
                break
            self.request(t)
        self.periodic(start, end, low_rate)

    # which requests
    def request(self, t):
        r = self.rng
        n = self.nouns
        u = r.random()
        ip = f"{r.choice([81, 84, 91, 185, 203, 77, 62])}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        ua = r.choice(UAS)
        if u < 0.18:
            path = r.choice(["/static/app.js", "/static/app.css", f"/static/img/logo-{r.randint(1, 3)}.svg", "/favicon.ico"])
            st = 200 if r.random() < 0.8 else 304
            if path == "/favicon.ico" and r.random() < 0.3:
                st = 404
                if r.random() < 0.5:
                    self.nginx_err(t, "error", f'*{r.randint(1000, 999999)} open() "/srv/{self.product}/static/favicon.ico" failed (2: No such file or directory), client: {ip}, server: {self.product}.example, request: "GET /favicon.ico HTTP/1.1", host: "{self.product}.example"')
            self.access(t, ip, "GET", path, st, r.randint(300, 90000) if st == 200 else 0, ua, r.uniform(0.0, 0.003), None)
            return
        kind = r.choices(["read", "list", "write", "export", "poll", "login", "dash"], [30, 15, 12, 5, 10, 6, 12])[0]
        noun = r.choice(n)
        i = r.randint(1, 99999)
        method, path = {"read": ("GET", f"/api/v1/{noun}/{i}"), "list": ("GET", f"/api/v1/{noun}?page={r.randint(1, 9)}"),
                        "write": ("POST", f"/api/v1/{noun}"), "export": ("POST", f"/api/v1/{noun}/export"),
                        "poll": ("GET", f"/api/v1/exports/{r.randint(1000, 9999)}"), "login": ("POST", "/api/v1/session"),
                        "dash": ("GET", "/api/v1/dashboard")}[kind]
        self.handle(t, ip, ua, kind, method, path)

    def access(self, t, ip, method, path, st, size, ua, rt, urt):
        upstream = "" if urt is None else f" urt={urt:.3f}"
        line = (f'{ip} - - [{clf(t + rt * 1000)}] "{method} {path} HTTP/1.1" {st} {size} "-" "{ua}"'
                + (f" rt={rt:.3f}{upstream}" if self.rt_fmt else ""))
        self.add(t + rt * 1000, self.lb, "nginx", "info", line, source="/var/log/nginx/access.log",
                 effect="nginx" if st >= 500 and st != 599 else None)

    def upstream_of(self, t):
        alive = [h for h in self.apps if not self.is_down(h, t)]
        self.rr += 1
        if not alive:
            return None, self.apps[self.rr % len(self.apps)]
        return alive[self.rr % len(alive)], None

    def is_down(self, h, t):
        if h in self.app_down and t >= self.app_down[h]:
            return True
        for host, a, b in self.app_restarting:
            if host == h and a <= t < b:
                return True
        return False

    def handle(self, t, ip, ua, kind, method, path):
        r = self.rng
        s = self.scenario
        faulty = t >= self.t_fault
        host, dead = self.upstream_of(t)
        up = f"unix:/run/{self.app_name}/gunicorn.sock" if self.sock else f"{self.ip.get(host or dead)}:8000"
        up_url = f"http://{up}:{path}" if self.sock else f"http://{up}{path}"
        cid = r.randint(1000, 999999)
        ctx = f'client: {ip}, server: {self.product}.example, request: "{method} {path} HTTP/1.1"'
        if host is None or (dead is None and self.is_down(host, t)):
            _h = dead
            if self.sock:
                self.nginx_err(t + 1, "error", f'*{cid} connect() to unix:/run/{self.app_name}/gunicorn.sock failed (111: Connection refused) while connecting to upstream, {ctx}, upstream: "{up_url}", host: "{self.product}.example"')
            else:
                self.nginx_err(t + 1, "error", f'*{cid} connect() failed (111: Connection refused) while connecting to upstream, {ctx}, upstream: "{up_url}", host: "{self.product}.example"')
            self.access(t, ip, method, path, 502, 157, ua, 0.001, 0.0)
            return
        if len(self.apps) > 1 and any(self.is_down(a, t) for a in self.apps) and r.random() < 0.1 and s == "upstream-down":
            self.nginx_err(t + 1, "warning", f'*{cid} upstream server temporarily disabled while connecting to upstream, {ctx}, upstream: "http://{self.ip[self.root_host]}:8000{path}", host: "{self.product}.example"')
        dur = r.lognormvariate(-3.2, 0.7)  # seconds
        status = 200 if method == "GET" else 201
        if kind == "login":
            status = 200 if r.random() < 0.93 else 401
        if kind == "read" and r.random() < 0.03:
            status = 404
        err = None
        slowness = 1.0
        # scenario effects on the app
        if faulty and s == "slow-disk" and kind in ("read", "list", "write", "dash"):
            slowness = r.choice([1, 1, 2, 4, 8, 20, 60]) * self.disk_factor
            dur *= slowness
        if faulty and s == "db-connections" and kind in ("read", "list", "write", "dash", "poll") and r.random() < self.pg_fail_frac(t):
            err = "pg"
        if faulty and s == "redis-oom" and kind in ("login", "dash", "write") and r.random() < 0.85:
            err = "redis"
        if faulty and s == "disk-alarm" and kind in ("write", "export") and t >= self.alarm_at:
            err = "blocked"
        if faulty and s == "oom-kill" and host == self.root_host and r.random() < self.oom_p(t):
            err = "killed"
        if s == "control-backup" and self.in_backup(t) and kind in ("list", "dash"):
            dur *= r.uniform(2, 8)
        if s == "control-surge" and t >= self.t_fault and t < self.surge_end and r.random() < 0.004:
            err = "surge500"
        if s == "control-upgrade" and self.redis_restart and self.redis_restart[0] <= t < self.redis_restart[1] and kind in ("login", "dash"):
            err = "redis-refused"
        if s == "control-restart" and any(h == host and a - 1500 <= t < a for h, a, b in self.app_restarting):
            # in flight while the worker shuts down: nginx sees the connection closed
            err = "closed" if r.random() < 0.3 else None
        pid = r.choice(self.gworkers[host])
        t_app = t + 2
        if dur > 30:
            err = "wtimeout"
        if err == "pg":
            tb = self.django_tb(path, "psycopg2.OperationalError", f'connection to server at "{self.ip[self.db]}", port 5432 failed: FATAL:  {self.pg_msg}',
                                ["django/db/backends/base/base.py", "django/db/backends/postgresql/base.py", "psycopg2/__init__.py"])
            self.django(t_app + 30, host, "error", "django.request", f"Internal Server Error: {path.split('?')[0]}\n{tb}")
            self.access(t, ip, method, path, 500, 145, ua, 0.035, 0.034)
            return
        if err == "redis":
            tb = self.django_tb(path, "redis.exceptions.OutOfMemoryError", "command not allowed when used memory > 'maxmemory'.",
                                ["django_redis/cache.py", "django/contrib/sessions/backends/cache.py", "redis/connection.py"])
            self.django(t_app + 20, host, "error", "django.request", f"Internal Server Error: {path.split('?')[0]}\n{tb}")
            self.access(t, ip, method, path, 500, 145, ua, 0.025, 0.024)
            return
        if err == "redis-refused":
            tb = self.django_tb(path, "redis.exceptions.ConnectionError", f"Error 111 connecting to {self.ip[self.cache]}:6379. Connection refused.",
                                ["django_redis/cache.py", "redis/connection.py"])
            self.django(t_app + 5, host, "error", "django.request", f"Internal Server Error: {path.split('?')[0]}\n{tb}")
            self.access(t, ip, method, path, 500, 145, ua, 0.01, 0.009)
            return
        if err == "blocked" or err == "wtimeout":
            # the request hangs in the publish (or the DB) until gunicorn kills the worker at 30 s
            self.gunicorn(t + 30000 + r.uniform(0, 900), host, "critical", f"WORKER TIMEOUT (pid:{pid})")
            if r.random() < 0.6:
                self.gunicorn(t + 30050 + r.uniform(0, 900), host, "error", f"Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?")
            newpid = pid + r.randint(50, 400)
            self.gworkers[host][self.gworkers[host].index(pid)] = newpid
            self.gunicorn(t + 30200 + r.uniform(0, 900), host, "info", f"Booting worker with pid: {newpid}", pid=self.gpid[host])
            if self.nginx_timeout < 30:
                self.nginx_err(t + self.nginx_timeout * 1000, "error", f'*{cid} upstream timed out (110: Connection timed out) while reading response header from upstream, {ctx}, upstream: "{up_url}", host: "{self.product}.example"')
                self.access(t, ip, method, path, 504, 167, ua, self.nginx_timeout, self.nginx_timeout)
            else:
                self.nginx_err(t + 30100, "error", f'*{cid} upstream prematurely closed connection while reading response header from upstream, {ctx}, upstream: "{up_url}", host: "{self.product}.example"')
                self.access(t, ip, method, path, 502, 157, ua, 30.1, 30.1)
            return
        if err == "killed" or err == "closed":
            self.nginx_err(t + dur * 1000, "error", f'*{cid} upstream prematurely closed connection while reading response header from upstream, {ctx}, upstream: "{up_url}", host: "{self.product}.example"')
            self.access(t, ip, method, path, 502, 157, ua, dur, dur)
            if err == "killed":
                self.oom_kill(t + dur * 1000 - 50, host, pid)
            return
        if err == "surge500":
            tb = self.django_tb(path, "django.db.utils.OperationalError", "canceling statement due to statement timeout",
                                ["django/db/backends/utils.py", "django/db/models/sql/compiler.py"])
            self.django(t_app + 2000, host, "error", "django.request", f"Internal Server Error: {path.split('?')[0]}\n{tb}")
            self.access(t, ip, method, path, 500, 145, ua, 2.01, 2.0)
            return
        # normal path
        if status == 404:
            self.django(t_app + dur * 500, host, "warning", "django.request", f"Not Found: {path.split('?')[0]}")
        elif status == 401:
            self.django(t_app + dur * 500, host, "warning", "django.request", f"Unauthorized: {path}")
        elif r.random() < self.app_logs:
            n = path.split("/")[3] if path.count("/") >= 3 else "session"
            txt = {"read": f"fetched {n.split('?')[0][:-1]} id={path.split('/')[-1]} org={r.randint(1, 400)}",
                   "list": f"listed {r.randint(0, 50)} {n.split('?')[0]} for org={r.randint(1, 400)}",
                   "write": f"created {n[:-1]} id={r.randint(100000, 999999)} org={r.randint(1, 400)}",
                   "export": f"queued export job={hexid(r, 12)} kind={n}", "poll": f"export {path.split('/')[-1]} status=ready",
                   "login": f"login ok user={r.randint(1, 50000)}", "dash": f"dashboard rendered widgets={r.randint(4, 12)} cache=hit"}[kind]
            if kind == "poll" and self.worker_quiet(t):
                txt = f"export {path.split('/')[-1]} status=pending age={int((t - self.t_fault) / 1000) + r.randint(5, 60)}s"
            self.django(t_app + dur * 900, host, "info", f"{self.app_name.replace('-', '_')}.views", txt)
        if s == "slow-disk" and faulty and slowness >= 8 * self.disk_factor and r.random() < 0.7:
            q = r.choice([f'SELECT "{self.nouns[0]}"."id", "{self.nouns[0]}"."org_id", "{self.nouns[0]}"."payload" FROM "{self.nouns[0]}" WHERE "{self.nouns[0]}"."org_id" = $1 ORDER BY "{self.nouns[0]}"."created_at" DESC LIMIT 50',
                          f'UPDATE "{self.nouns[1]}" SET "updated_at" = $1 WHERE "{self.nouns[1]}"."id" = $2',
                          f'INSERT INTO "{self.nouns[2]}" ("org_id", "body", "created_at") VALUES ($1, $2, $3) RETURNING "{self.nouns[2]}"."id"'])
            self.pg(t + dur * 1000 - 5, "LOG", f"duration: {dur * 1000 - 10:.3f} ms  execute <unnamed>: {q}", user="app")
        if kind in ("write", "export") and not (s == "silent-worker" and False):
            self.publish(t + dur * 500, host, kind)
        self.access(t, ip, method, path, status, r.randint(200, 30000), ua, dur + 0.001, dur)

    def django_tb(self, path, exc, msg, files):
        fr = []
        fr.append("Traceback (most recent call last):")
        fr.append(f'  File "/srv/{self.product}/venv/lib/python3.11/site-packages/django/core/handlers/exception.py", line 55, in inner')
        fr.append("    response = get_response(request)")
        for f in files:
            fr.append(f'  File "/srv/{self.product}/venv/lib/python3.11/site-packages/{f}", line {40 + len(f) * 3}, in {f.split("/")[-1][:-3]}_call')
        fr.append(f"{exc}: {msg}")
        return "\n".join(fr)

    def publish(self, t, host, kind):
        r = self.rng
        if self.rmq_conn_per_publish and r.random() < 0.5:
            port = r.randint(32768, 60999)
            pid = f"<0.{r.randint(1000, 30000)}.0>"
            c = f"{self.ip[host]}:{port} -> {self.ip[self.mq]}:5672"
            self.rmq(t, "info", f"accepting AMQP connection {pid} ({c})")
            self.rmq(t + 3, "info", f"connection {pid} ({c}): user '{self.product}' authenticated and granted access to vhost '/{self.product}'")
            self.rmq(t + 12, "info", f"closing AMQP connection {pid} ({c}, vhost: '/{self.product}', user: '{self.product}')")
        self.jobs.append((t + r.uniform(5, 60), kind))

    def worker_quiet(self, t):
        return self.scenario == "silent-worker" and t >= self.t_fault

    # ---------------------------------------------------------------- periodic background
    def periodic(self, start, end, low_rate):
        r = self.rng
        # worker consumes the jobs
        for tj, kind in sorted(self.jobs):
            if tj >= end:
                continue
            if self.worker_quiet(tj):
                continue
            if self.scenario == "crash-loop" and tj >= self.t_fault:
                continue
            jid = hexid(r, 12)
            q = "exports" if kind == "export" else r.choice(["emails", "webhooks", "thumbnails", "index"])
            d = r.lognormvariate(-1.5, 0.8) * (8 if kind == "export" else 1)
            if self.scenario == "slow-disk" and tj >= self.t_fault:
                d *= r.uniform(3, 20)
            self.worker(tj, "info", "job received", queue=q, job_id=jid, delivery_tag=r.randint(1, 99999))
            if self.scenario == "db-connections" and tj >= self.t_fault and r.random() < 0.8:
                self.worker(tj + 30, "error", "job failed", queue=q, job_id=jid,
                            err=f"failed to connect to `host={self.ip[self.db]} user=worker database={self.db_name}`: server error (FATAL: {self.pg_msg} (SQLSTATE 53300))")
                continue
            if self.scenario == "redis-oom" and tj >= self.t_fault and r.random() < 0.7:
                self.worker(tj + d * 1000, "warning", "status cache update failed", job_id=jid, err="OOM command not allowed when used memory > 'maxmemory'.")
            if r.random() < 0.01:
                self.worker(tj + d * 1000, "warning", "job failed, will retry", queue=q, job_id=jid, attempt=1, err="webhook endpoint returned 503")
                continue
            self.worker(tj + d * 1000, "info", "job done", queue=q, job_id=jid, duration=f"{d:.3f}s")
        # worker stats every minute
        t = start + r.uniform(0, 60000)
        while t < end:
            if not self.worker_quiet(t) and not (self.scenario == "crash-loop" and t >= self.t_fault):
                self.worker(t, "info", "consumer stats", processed=r.randint(0, 40), failed=0, prefetch=10, _caller="worker/stats.go:31")
            t += 60000 / low_rate
        # postgres checkpoints every 5 min, autovacuum, slow statements
        t = start + r.uniform(0, 300000)
        while t < end:
            slow = self.scenario == "slow-disk" and t >= self.t_fault
            bk = r.randint(200, 4000)
            self.pg(t, "LOG", "checkpoint starting: time")
            w = r.uniform(20, 200) if not slow else r.uniform(270, 600)
            sy = r.uniform(0.002, 0.05) if not slow else r.uniform(8, 45)
            self.pg(t + w * 1000 + sy * 1000, "LOG", f"checkpoint complete: wrote {bk} buffers ({bk / 163.84:.1f}%); 0 WAL file(s) added, 0 removed, {r.randint(0, 3)} recycled; write={w:.3f} s, sync={sy:.3f} s, total={w + sy + 0.01:.3f} s; sync files={r.randint(10, 90)}, longest={sy / 3:.3f} s, average={sy / 20:.3f} s; distance={bk * 8} kB, estimate={bk * 9} kB")
            t += 300000
        t = start + r.uniform(0, 900000)
        while t < end:
            tab = r.choice(self.nouns + ["django_session", "audit_log"])
            self.pg(t, "LOG", f'automatic vacuum of table "{self.db_name}.public.{tab}": index scans: {r.randint(0, 1)}\n\tpages: 0 removed, {r.randint(100, 9000)} remain, 0 skipped due to pins, 0 skipped frozen\n\ttuples: {r.randint(10, 3000)} removed, {r.randint(1000, 300000)} remain, 0 are dead but not yet removable', pid=r.randint(10000, 60000))
            t += r.uniform(600000, 1800000) / low_rate ** 0.5
        t = start + r.expovariate(1 / 400000)
        while t < end:
            if not (self.scenario == "slow-disk" and t >= self.t_fault):
                d = r.uniform(500, 1900)
                self.pg(t, "LOG", f'duration: {d:.3f} ms  execute <unnamed>: SELECT COUNT(*) AS "__count" FROM "{r.choice(self.nouns)}" WHERE "org_id" = $1', user="app")
            t += r.expovariate(1 / 400000) / low_rate
        t = start + r.expovariate(1 / 1500000)
        while t < end:
            pid = r.randint(10000, 60000)
            self.pg(t, "ERROR", f'duplicate key value violates unique constraint "{self.nouns[1]}_slug_key"', user="app", pid=pid)
            self.pg(t, "DETAIL", f"Key (slug)=(q{r.randint(1000, 9999)}) already exists.", user="app", pid=pid)
            self.pg(t, "STATEMENT", f'INSERT INTO "{self.nouns[1]}" ("org_id", "slug", "title") VALUES ($1, $2, $3) RETURNING "{self.nouns[1]}"."id"', user="app", pid=pid)
            t += r.expovariate(1 / 1500000)
        # redis RDB saves
        t = start + r.uniform(0, 300000)
        while t < end:
            ch = r.randint(10, 9000)
            self.redis(t, "*", f"{ch if ch >= 10 else 10} changes in {300 if ch < 10000 else 60} seconds. Saving...")
            cp = r.randint(4000, 9000)
            self.redis(t + 2, "*", f"Background saving started by pid {cp}")
            ts = t + r.uniform(40, 400)
            self.add(ts, self.cache, "redis-server.service", "info", f"{cp}:C {dt(ts).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * DB saved on disk", root=self.root_svc == "redis")
            self.redis(t + r.uniform(400, 900), "*", "Background saving terminated with success")
            t += r.uniform(300000, 360000) / (1 if low_rate == 1 else 0.5)
        # cron on every host
        for h in self.hosts:
            jobs = [("root", "cd / && run-parts --report /etc/cron.hourly", 3600000, 17 * 60000)]
            if h == self.db:
                jobs.append(("postgres", f"/usr/lib/postgresql/{self.pg_ver}/bin/vacuumdb --all --analyze-in-stages -q >/dev/null", 3600000 * 24, 3 * 3600000 + 40 * 60000))
            if h in self.apps:
                jobs.append((self.product, f"/srv/{self.product}/venv/bin/python /srv/{self.product}/manage.py clearsessions", 900000, 4 * 60000))
            if h == self.lb:
                jobs.append(("root", "test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep int(rand(43200))' && certbot -q renew", 12 * 3600000, 0))
            for user, cmd, period, offset in jobs:
                t0 = (start // period) * period + offset
                while t0 < end:
                    if t0 >= start:
                        pid = r.randint(10000, 90000)
                        self.raw(t0 + r.uniform(0, 900), h, "CRON", "info", f"pam_unix(cron:session): session opened for user {user}(uid={0 if user == 'root' else r.choice([110, 1001])}) by (uid=0)")
                        self.raw(t0 + r.uniform(900, 1200), h, "CRON", "info", f"({user}) CMD ({cmd})")
                        self.raw(t0 + r.uniform(1500, 9000), h, "CRON", "info", f"pam_unix(cron:session): session closed for user {user}")
                    t0 += period
            # sysstat
            t0 = (start // 600000) * 600000
            while t0 < end:
                if t0 >= start and r.random() < 0.9:
                    self.systemd(t0 + 5, h, "info", "Starting sysstat-collect.service - system activity accounting tool...")
                    self.systemd(t0 + 60, h, "info", "sysstat-collect.service: Deactivated successfully.")
                    self.systemd(t0 + 62, h, "info", "Finished sysstat-collect.service - system activity accounting tool.")
                t0 += 600000 if low_rate == 1 else 1800000
        # ssh noise on the edge, logins on the others
        t = start + r.expovariate(1 / 240000)
        while t < end:
            ip = f"{r.choice([45, 103, 141, 159, 193, 218])}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
            user = r.choice(["admin", "test", "ubuntu", "oracle", "git", "user", "postgres", "deploy1"])
            port = r.randint(30000, 65000)
            self.raw(t, self.lb, "sshd", "info", f"Invalid user {user} from {ip} port {port}")
            self.raw(t + 300, self.lb, "sshd", "info", f"Connection closed by invalid user {user} {ip} port {port} [preauth]")
            t += r.expovariate(1 / 240000) / low_rate ** 0.5
        t = start + r.expovariate(1 / 2400000)
        while t < end:
            h = r.choice(self.hosts)
            sess = r.randint(100, 9999)
            self.raw(t, h, "sshd", "info", f"Accepted publickey for ops from 10.8.0.{r.randint(2, 40)} port {r.randint(40000, 60000)} ssh2: ED25519 SHA256:{hexid(r, 10)}Zq{hexid(r, 8)}")
            self.systemd(t + 40, h, "info", f"Started session-{sess}.scope - Session {sess} of User ops.")
            self.systemd(t + r.uniform(60000, 900000), h, "info", f"session-{sess}.scope: Deactivated successfully.")
            t += r.expovariate(1 / 2400000)
        t = start + r.expovariate(1 / 900000)
        while t < end:
            src = f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
            self.raw(t, self.lb, "kernel", "info", f"[UFW BLOCK] IN=eth0 OUT= MAC=96:00:02:{hexid(r, 2)}:{hexid(r, 2)}:{hexid(r, 2)} SRC={src} DST={self.ip[self.lb]} LEN=44 TOS=0x00 PREC=0x00 TTL={r.randint(40, 250)} ID={r.randint(1, 65000)} PROTO=TCP SPT={r.randint(1000, 65000)} DPT={r.choice([23, 3389, 5900, 8088, 2375])} WINDOW=1024 RES=0x00 SYN URGP=0")
            t += r.expovariate(1 / 900000)

    # ---------------------------------------------------------------- helpers of scenarios
    def oom_kill(self, t, host, pid):
        r = self.rng
        if self.last_oom.get(host, -1e18) > t - 20000:
            return
        self.last_oom[host] = t
        rss = r.randint(1800000, 3100000)
        self.raw(t - 30, host, "kernel", "warning", "gunicorn invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0")
        self.raw(t - 20, host, "kernel", "info", f"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/{self.app_unit},task=gunicorn,pid={pid},uid=1001")
        self.raw(t - 10, host, "kernel", "error", f"Out of memory: Killed process {pid} (gunicorn) total-vm:{rss + 400000}kB, anon-rss:{rss}kB, file-rss:{r.randint(1000, 9000)}kB, shmem-rss:0kB, UID:1001 pgtables:{rss // 500}kB oom_score_adj:0")
        self.gunicorn(t + 200, host, "error", f"Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?")
        newpid = pid + r.randint(30, 300)
        if pid in self.gworkers[host]:
            self.gworkers[host][self.gworkers[host].index(pid)] = newpid
        self.gunicorn(t + 400, host, "info", f"Booting worker with pid: {newpid}")

    def oom_p(self, t):
        # the leak grows: kills come faster as the window goes on
        return min(0.25, 0.01 + (t - self.t_fault) / 600000 * 0.04)

    def pg_fail_frac(self, t):
        if t < self.pg_full_at:
            return 0.0
        return min(0.9, 0.15 + (t - self.pg_full_at) / 300000 * 0.3)

    def in_backup(self, t):
        for a, b in self.backups:
            if a <= t < b:
                return True
        return False

    # ---------------------------------------------------------------- scenarios
    def sc_db_connections(self, t0, end):
        r = self.rng
        # a reporting script opens a connection per row and never closes them
        pid = r.randint(20000, 40000)
        t = t0
        n = 0
        while t < self.pg_full_at and t < end:
            p = pid + n
            self.pg(t, "LOG", f"connection received: host={self.ip[self.apps[0]]} port={r.randint(40000, 60000)}", pid=p)
            self.pg(t + 4, "LOG", f"connection authorized: user=reporting database={self.db_name} application_name=psql", pid=p)
            n += 1
            t += r.uniform(1500, 4000)
        t = self.pg_full_at
        while t < end:
            p = r.randint(40000, 60000)
            self.pg(t, "LOG", f"connection received: host={self.ip[r.choice(self.apps + [self.worker_host])]} port={r.randint(40000, 60000)}", pid=p)
            self.pg(t + 2, "FATAL", self.pg_msg, user="app", pid=p)
            t += r.uniform(800, 6000)

    def sc_redis_oom(self, t0, end):
        # redis itself says nothing; once, its used memory report shows on a BGSAVE fork failure (sometimes)
        r = self.rng
        if r.random() < 0.5:
            self.redis(t0 + r.uniform(60000, 400000), "#", "Can't save in background: fork: Cannot allocate memory")

    def sc_disk_alarm(self, t0, end):
        r = self.rng
        node = f"rabbit@{self.mq.split('.')[0]}"
        free = r.randint(30000000, 49000000)
        self.rmq(t0 + 1000, "info", f"Free disk space is insufficient. Free bytes: {free}. Limit: 50000000")
        self.rmq(t0 + 1020, "warning", f"disk resource limit alarm set on node '{node}'.")
        self.rmq(t0 + 1030, "warning", "\n**********************************************************\n*** Publishers will be blocked until this alarm clears ***\n**********************************************************")

    def sc_crash_loop(self, t0, end):
        r = self.rng
        h = self.worker_host
        t = t0
        n = 0
        unit = self.worker_unit
        bad = r.choice(["invoice_template", "webhook_secret", "retention_days", "thumbnail_size"])
        while t < end:
            n += 1
            mpid = r.randint(2000, 60000)
            self.worker(t, "info", "starting worker", version=f"1.{r.randint(10, 40)}.{r.randint(0, 9)}", pid=mpid, _caller="cmd/worker/main.go:41")
            self.worker(t + 40, "info", "connected to broker", url=f"amqp://{self.product}@{self.ip[self.mq]}:5672/{self.product}", _caller="amqp/conn.go:63")
            c = f"{self.ip[h]}:{r.randint(32768, 60999)} -> {self.ip[self.mq]}:5672"
            pidc = f"<0.{r.randint(1000, 30000)}.0>"
            self.rmq(t + 30, "info", f"accepting AMQP connection {pidc} ({c})")
            tp = t + r.uniform(400, 2500)
            self.worker(tp - 100, "info", "job received", queue="webhooks", job_id=hexid(r, 12), delivery_tag=1)
            lines = ["panic: runtime error: invalid memory address or nil pointer dereference",
                     f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x{r.randint(16, 255):x} pc=0x{r.randint(0x400000, 0x9fffff):x}]",
                     "", "goroutine 27 [running]:",
                     f"main.(*Handler).render(0xc000{hexid(r, 6)}, 0xc000{hexid(r, 6)})",
                     f"\t/src/internal/jobs/{bad}.go:{r.randint(40, 200)} +0x{hexid(r, 2)}",
                     f"main.(*Consumer).handle(0xc000{hexid(r, 6)}, {{0xc000{hexid(r, 6)}, 0x1}})",
                     f"\t/src/internal/jobs/consumer.go:{r.randint(80, 140)} +0x{hexid(r, 3)}",
                     "created by main.(*Consumer).Run in goroutine 1",
                     f"\t/src/internal/jobs/consumer.go:{r.randint(50, 70)} +0x{hexid(r, 3)}"]
            for k, ln in enumerate(lines):
                if ln:
                    self.add(tp + k * 0.1, h, unit, "error" if k < 2 else "info", ln, root=True)
            self.rmq(tp + 20, "warning", f"closing AMQP connection {pidc} ({c}, vhost: '/{self.product}', user: '{self.product}'):\nclient unexpectedly closed TCP connection")
            self.systemd(tp + 30, h, "info", f"{unit}: Main process exited, code=exited, status=2/INVALIDARGUMENT")
            self.systemd(tp + 31, h, "warning", f"{unit}: Failed with result 'exit-code'.")
            rs = r.choice([5, 10])
            self.systemd(tp + rs * 1000, h, "info", f"{unit}: Scheduled restart job, restart counter is at {n}.")
            self.systemd(tp + rs * 1000 + 2, h, "info", f"Stopped {unit} - {self.product} background worker.")
            self.systemd(tp + rs * 1000 + 5, h, "info", f"Started {unit} - {self.product} background worker.")
            t = tp + rs * 1000 + 10

    def sc_upstream_down(self, t0, end):
        r = self.rng
        h = self.root_host
        unit = self.app_unit
        self.systemd(t0 - 400, h, "info", f"Reloading {unit} - Gunicorn instance serving {self.product}...")
        self.gunicorn(t0 - 300, h, "info", "Handling signal: hup")
        self.gunicorn(t0 - 290, h, "info", "Hang up: Master")
        self.systemd(t0 - 250, h, "info", f"Reloaded {unit} - Gunicorn instance serving {self.product}.")
        for k, w in enumerate(self.gworkers[h]):
            nw = w + 100 + k
            self.gunicorn(t0 - 200 + k, h, "info", f"Booting worker with pid: {nw}", pid=self.gpid[h])
            self.gunicorn(t0 - 150 + k * 2, h, "info", f"Worker exiting (pid: {w})", pid=w)
            tb = ["Traceback (most recent call last):",
                  f'  File "/srv/{self.product}/venv/lib/python3.11/site-packages/gunicorn/arbiter.py", line 609, in spawn_worker',
                  "    worker.init_process()", f'  File "/srv/{self.product}/venv/lib/python3.11/site-packages/gunicorn/workers/base.py", line 134, in init_process',
                  "    self.load_wsgi()", f'  File "/srv/{self.product}/{self.product}/settings.py", line {r.randint(30, 90)}, in <module>',
                  '    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]', "KeyError: 'DJANGO_SECRET_KEY'"]
            self.gunicorn(t0 + 300 + k * 20, h, "error", "Exception in worker process\n" + "\n".join(tb), pid=nw)
            self.gunicorn(t0 + 320 + k * 20, h, "info", f"Worker exiting (pid: {nw})", pid=nw)
        self.gunicorn(t0 + 600, h, "error", "Worker (pid:%d) exited with code 3" % (self.gworkers[h][0] + 100))
        self.gunicorn(t0 + 620, h, "error", "Shutting down: Master")
        self.gunicorn(t0 + 630, h, "error", "Reason: Worker failed to boot.")
        self.systemd(t0 + 700, h, "info", f"{unit}: Main process exited, code=exited, status=3/NOTIMPLEMENTED")
        self.systemd(t0 + 701, h, "warning", f"{unit}: Failed with result 'exit-code'.")
        self.systemd(t0 + 702, h, "info", f"{unit}: Consumed {r.randint(1, 40)}min {r.uniform(1, 59):.3f}s CPU time.")
        self.app_down[h] = t0 + 640

    def sc_slow_disk(self, t0, end):
        r = self.rng
        t = t0 + r.uniform(120000, 200000)
        while t < end:
            pid = r.randint(1000, 60000)
            who = r.choice(["postgres", "postgres", "jbd2/sda1-8", "kworker/u4:2"])
            self.raw(t, self.db, "kernel", "error", f"INFO: task {who}:{pid} blocked for more than 120 seconds.")
            self.raw(t + 1, self.db, "kernel", "error", f"      Not tainted 6.1.0-{r.choice([17, 18, 21])}-amd64 #1 Debian 6.1.{r.randint(69, 90)}-1")
            self.raw(t + 2, self.db, "kernel", "error", '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.')
            t += r.uniform(120000, 400000)

    def sc_silent_worker(self, t0, end):
        r = self.rng
        _node = f"rabbit@{self.mq.split('.')[0]}"
        to = self.consumer_timeout
        if t0 + to < end:
            c = f"{self.ip[self.worker_host]}:{r.randint(32768, 60999)} -> {self.ip[self.mq]}:5672"
            self.rmq(t0 + to, "warning", f"Consumer None on channel 1 has timed out waiting for delivery acknowledgement. Timeout used: {int(to)} ms. This timeout value can be configured, see consumers doc guide to learn more")
            self.rmq(t0 + to + 5, "error", f"Channel error on connection <0.{r.randint(1000, 9000)}.0> ({c}, vhost: '/{self.product}', user: '{self.product}'), channel 1:\noperation none caused a channel exception precondition_failed: delivery acknowledgement on channel 1 timed out. Timeout value used: {int(to)} ms. This timeout value can be configured, see consumers doc guide to learn more")

    def sc_oom_kill(self, t0, end):
        pass  # the kills happen in handle(): requests on the leaking host take its workers down

    def restart_app(self, t, h, why="deploy"):
        r = self.rng
        unit = self.app_unit
        self.systemd(t, h, "info", f"Stopping {unit} - Gunicorn instance serving {self.product}...")
        self.gunicorn(t + 5, h, "info", "Handling signal: term")
        for w in self.gworkers[h]:
            self.gunicorn(t + 10 + r.uniform(0, 900), h, "info", f"Worker exiting (pid: {w})", pid=w)
        self.gunicorn(t + 1200, h, "info", "Shutting down: Master")
        self.systemd(t + 1300, h, "info", f"{unit}: Deactivated successfully.")
        self.systemd(t + 1301, h, "info", f"Stopped {unit} - Gunicorn instance serving {self.product}.")
        self.systemd(t + 1302, h, "info", f"{unit}: Consumed {r.randint(1, 59)}min {r.uniform(1, 59):.3f}s CPU time.")
        self.systemd(t + 1400, h, "info", f"Started {unit} - Gunicorn instance serving {self.product}.")
        self.gpid[h] = r.randint(3000, 60000)
        self.gunicorn(t + 1900, h, "info", f"Starting gunicorn {self.gunicorn_ver}")
        self.gunicorn(t + 1910, h, "info", f"Listening at: {'unix:/run/' + self.app_name + '/gunicorn.sock' if self.sock else 'http://0.0.0.0:8000'} ({self.gpid[h]})")
        self.gunicorn(t + 1915, h, "info", "Using worker: sync")
        self.gworkers[h] = [self.gpid[h] + k + 1 for k in range(len(self.gworkers[h]))]
        for k, w in enumerate(self.gworkers[h]):
            self.gunicorn(t + 1920 + k * 5, h, "info", f"Booting worker with pid: {w}")
        self.app_restarting.append((h, t + 1200, t + 2600))

    def restart_worker(self, t):
        r = self.rng
        h, unit = self.worker_host, self.worker_unit
        self.systemd(t, h, "info", f"Stopping {unit} - {self.product} background worker...")
        self.worker(t + 5, "info", "shutting down", reason="signal terminated", _caller="cmd/worker/main.go:77")
        self.worker(t + 300, "info", "consumer stopped", inflight=0, _caller="worker/consumer.go:141")
        self.systemd(t + 400, h, "info", f"{unit}: Deactivated successfully.")
        self.systemd(t + 401, h, "info", f"Stopped {unit} - {self.product} background worker.")
        self.systemd(t + 450, h, "info", f"Started {unit} - {self.product} background worker.")
        self.worker(t + 600, "info", "starting worker", version=f"1.{r.randint(10, 40)}.{r.randint(0, 9)}", pid=r.randint(2000, 60000), _caller="cmd/worker/main.go:41")
        self.worker(t + 650, "info", "connected to broker", url=f"amqp://{self.product}@{self.ip[self.mq]}:5672/{self.product}", _caller="amqp/conn.go:63")

    def sc_control_restart(self, t0, end):
        r = self.rng
        t = t0 + r.uniform(60000, 180000)
        self.raw(t - 20000, self.apps[0], "sshd", "info", f"Accepted publickey for deploy from 10.8.0.{r.randint(2, 40)} port {r.randint(40000, 60000)} ssh2: ED25519 SHA256:{hexid(r, 10)}Kx{hexid(r, 8)}")
        for h in self.apps:
            self.restart_app(t, h)
            t += r.uniform(30000, 90000)
        self.restart_worker(t)

    def sc_control_backup(self, t0, end):
        pass  # built in run_backup (both nights)

    def backup_night(self, t):
        r = self.rng
        h = self.db
        _pid = r.randint(10000, 90000)
        self.raw(t, h, "CRON", "info", "pam_unix(cron:session): session opened for user postgres(uid=110) by (uid=0)")
        self.raw(t + 900, h, "CRON", "info", "(postgres) CMD (/usr/local/bin/db-backup.sh >> /var/log/db-backup.log 2>&1)")
        dur = r.uniform(420000, 720000)
        self.raw(t + 2000, h, "db-backup", "info", f"starting pg_dump of {self.db_name} to /backup/{self.db_name}-{dt(t).strftime('%Y%m%d')}.dump")
        self.raw(t + dur * 0.7, h, "db-backup", "info", f"dump finished: {r.randint(2000, 9000)} MB in {int(dur * 0.7 / 1000)} s")
        self.raw(t + dur * 0.72, h, "db-backup", "info", "syncing uploads to backup host")
        for k in range(r.randint(2, 5)):
            self.raw(t + dur * 0.75 + k * 900, h, "db-backup", "warning", f"rsync: [sender] link_stat \"/srv/{self.product}/media/tmp/upload-{hexid(r, 8)}.part\" failed: No such file or directory (2)")
        self.raw(t + dur * 0.9, h, "db-backup", "warning", "rsync warning: some files vanished before they could be transferred (code 24) at main.c(1338) [sender=3.2.7]")
        self.raw(t + dur * 0.92, h, "db-backup", "warning", f"tar: ./{self.product}/media/tmp: file changed as we read it")
        self.raw(t + dur, h, "db-backup", "info", "backup complete")
        self.raw(t + dur + 500, h, "CRON", "info", "pam_unix(cron:session): session closed for user postgres")
        # slow statements while the dump reads
        tt = t + 20000
        while tt < t + dur * 0.7:
            d = r.uniform(600, 4000)
            self.pg(tt, "LOG", f'duration: {d:.3f} ms  execute <unnamed>: SELECT "{self.nouns[0]}".* FROM "{self.nouns[0]}" WHERE "org_id" = $1 ORDER BY "created_at" DESC LIMIT 50', user="app")
            tt += r.uniform(20000, 70000)
        self.pg(t + dur * 0.3, "LOG", "checkpoint starting: wal")
        self.backups.append((t, t + dur * 0.7))

    def sc_control_surge(self, t0, end):
        pass  # the rate and the errors scale in run()/handle()

    def sc_control_upgrade(self, t0, end):
        pass  # written by upgrade() before the traffic so that its restarts are known to handle()

    def upgrade(self, t0):
        r = self.rng
        h = self.cache
        t = t0 + r.uniform(30000, 120000)
        hosts = self.hosts
        pk = [("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"), ("openssl", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2"),
              ("redis-server", "5:7.0.15-1~deb12u1", "5:7.0.15-1~deb12u2"), ("redis-tools", "5:7.0.15-1~deb12u1", "5:7.0.15-1~deb12u2"),
              ("tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1")]
        for hh in [h] + [x for x in hosts if x != h][: r.randint(1, 3)]:
            ts = t + (0 if hh == h else r.uniform(5000, 400000))
            self.systemd(ts, hh, "info", "Starting apt-daily-upgrade.service - Daily apt upgrade and clean activities...")
            names = [p for p in pk if hh == h or not p[0].startswith("redis")]
            def uu(m, lv, text):
                d = dt(m)
                self.raw(m, hh, "unattended-upgrades", lv, f"{d.strftime('%Y-%m-%d %H:%M:%S')},{d.microsecond // 1000:03d} {lv.upper() if lv != 'warning' else 'WARNING'} {text}",
                         source="/var/log/unattended-upgrades/unattended-upgrades.log")
            uu(ts + 3000, "info", "Starting unattended upgrades script")
            uu(ts + 3100, "info", "Allowed origins are: origin=Debian,codename=bookworm,label=Debian, origin=Debian,codename=bookworm,label=Debian-Security, origin=Debian,codename=bookworm-security,label=Debian-Security")
            uu(ts + 9000, "info", "Packages that will be upgraded: " + " ".join(p[0] for p in names))
            uu(ts + 9100, "info", "Writing dpkg log to /var/log/unattended-upgrades/unattended-upgrades-dpkg.log")
            m = ts + 12000
            for p, a, b in names:
                _d = dt(m).strftime("%Y-%m-%d %H:%M:%S")
                for txt in [f"upgrade {p}:amd64 {a} {b}", f"status half-configured {p}:amd64 {a}", f"status unpacked {p}:amd64 {a}",
                            f"status half-installed {p}:amd64 {a}", f"status unpacked {p}:amd64 {b}", f"configure {p}:amd64 {b} <none>",
                            f"status half-configured {p}:amd64 {b}", f"status installed {p}:amd64 {b}"]:
                    self.raw(m, hh, "dpkg", "info", f"{dt(m).strftime('%Y-%m-%d %H:%M:%S')} {txt}", source="/var/log/dpkg.log")
                    m += r.uniform(50, 900)
                if p == "redis-server":
                    self.redis_restart_at(m, hh)
                    m += 3000
            self.raw(m + 100, hh, "dpkg", "info", f"{dt(m).strftime('%Y-%m-%d %H:%M:%S')} trigproc man-db:amd64 2.11.2-2 <none>", source="/var/log/dpkg.log")
            self.raw(m + 200, hh, "dpkg", "info", f"{dt(m).strftime('%Y-%m-%d %H:%M:%S')} trigproc libc-bin:amd64 2.36-9+deb12u4 <none>", source="/var/log/dpkg.log")
            uu(m + 4000, "info", "All upgrades installed")
            self.raw(m + 4500, hh, "needrestart", "info", "Restarting services...")
            self.raw(m + 4600, hh, "needrestart", "info", " systemctl restart cron.service ssh.service")
            self.systemd(m + 4700, hh, "info", "Stopping cron.service - Regular background program processing daemon...")
            self.systemd(m + 4710, hh, "info", "cron.service: Deactivated successfully.")
            self.systemd(m + 4711, hh, "info", "Stopped cron.service - Regular background program processing daemon.")
            self.systemd(m + 4720, hh, "info", "Started cron.service - Regular background program processing daemon.")
            self.raw(m + 4730, hh, "CRON", "info", "(CRON) INFO (pidfile fd = 3)")
            self.raw(m + 4731, hh, "CRON", "info", "(CRON) INFO (Skipping @reboot jobs -- not system startup)")
            self.systemd(m + 5000, hh, "info", "apt-daily-upgrade.service: Deactivated successfully.")
            self.systemd(m + 5001, hh, "info", "Finished apt-daily-upgrade.service - Daily apt upgrade and clean activities.")
            self.systemd(m + 5002, hh, "info", f"apt-daily-upgrade.service: Consumed {r.uniform(10, 90):.3f}s CPU time.")

    def redis_restart_at(self, m, hh):
        r = self.rng
        self.systemd(m, hh, "info", "Stopping redis-server.service - Advanced key-value store...")
        self.redis(m + 10, "#", "User requested shutdown...")
        self.redis(m + 11, "*", "Saving the final RDB snapshot before exiting.")
        self.redis(m + 300, "*", "DB saved on disk")
        self.redis(m + 301, "*", "Removing the pid file.")
        self.redis(m + 302, "#", "Redis is now ready to exit, bye bye...")
        self.systemd(m + 400, hh, "info", "redis-server.service: Deactivated successfully.")
        self.systemd(m + 401, hh, "info", "Stopped redis-server.service - Advanced key-value store.")
        self.systemd(m + 450, hh, "info", "Starting redis-server.service - Advanced key-value store...")
        self.rpid = r.randint(5000, 60000)
        self.redis(m + 500, "#", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
        self.redis(m + 501, "#", f"Redis version={self.redis_ver}, bits=64, commit=00000000, modified=0, pid={self.rpid}, just started")
        self.redis(m + 502, "#", "Configuration loaded")
        self.redis(m + 510, "*", "monotonic clock: POSIX clock_gettime")
        self.redis(m + 520, "*", "Running mode=standalone, port=6379.")
        self.redis(m + 530, "#", "Server initialized")
        self.redis(m + 540, "*", f"Loading RDB produced by version {self.redis_ver}")
        self.redis(m + 900, "*", f"DB loaded from disk: {r.uniform(0.01, 0.6):.3f} seconds")
        self.redis(m + 901, "*", "Ready to accept connections tcp")
        self.systemd(m + 950, hh, "info", "Started redis-server.service - Advanced key-value store.")
        self.redis_restart = (m + 20, m + 900)


ROOTS = {"db-connections": "postgres", "redis-oom": "redis", "disk-alarm": "rabbitmq", "crash-loop": "worker",
         "upstream-down": "app", "slow-disk": "postgres", "silent-worker": "worker", "oom-kill": "app"}
TITLES_FAULT = ["Customers report problems in the web app", "Spike of support tickets this hour", "Something is off in production",
                "Status page check flapping", "Error budget burning faster than usual", "Partner integration reporting problems"]
TITLES_CONTROL = ["Routine check of the production fleet", "Evening review of production logs", "Production fleet, quiet hour review",
                  "Weekly log review window"]


def make_case(n: int, used: dict):
    rng = random.Random(9000 + n)
    scenario = pick_balanced(rng, SCENARIOS, used)
    f = Fleet(rng, scenario)
    root_svc = ROOTS.get(scenario)
    f.root_svc = root_svc
    f.root_host = None
    if root_svc == "app":
        f.root_host = rng.choice(f.apps)
    f.rt_fmt = rng.random() < 0.6
    f.nginx_timeout = rng.choice([10, 20, 60, 60])
    f.pg_msg = rng.choice(["sorry, too many clients already",
                           "remaining connection slots are reserved for non-replication superuser connections"])
    f.disk_factor = rng.uniform(1.0, 3.0)
    f.consumer_timeout = rng.choice([600000.0, 900000.0, 1800000.0])
    f.jobs, f.last_oom, f.backups, f.redis_restart = [], {}, [], None
    f.app_down, f.app_restarting = {}, []
    day = datetime(2026, 3, 1, tzinfo=timezone.utc) + timedelta(days=n)
    if scenario == "control-backup":
        fault = day.replace(hour=rng.choice([1, 2, 3]), minute=rng.choice([0, 15, 30]))
        history = timedelta(hours=25)
    elif scenario == "control-upgrade":
        fault = day.replace(hour=6, minute=rng.randrange(0, 50))
        history = timedelta(minutes=rng.randint(110, 140))
    else:
        fault = day.replace(hour=rng.randint(8, 20), minute=rng.randrange(60), second=rng.randrange(60))
        history = timedelta(minutes=rng.randint(110, 140))
    window = timedelta(minutes=rng.randint(23, 27))
    t_fault = ms_of(fault)
    start, end = ms_of(fault - history), ms_of(fault + window)
    f.t_fault, f.t_end = t_fault, end
    f.alarm_at = t_fault + 1000
    f.pg_full_at = t_fault + rng.uniform(60000, 120000)
    if scenario == "control-backup":
        for d in (1, 0):
            f.backup_night(t_fault - d * 86400000 + rng.uniform(0, 60000))
    if scenario == "control-upgrade":
        f.upgrade(t_fault)
    low = 0.12 if scenario == "control-backup" else 1.0
    f.run(start, t_fault, end, scenario, low_rate=low)
    recs = f.log.sorted()
    # inventory
    hosts = {h: {"address": f.ip[h], "role": role_of(f, h)} for h in f.hosts}
    services = {
        "nginx": {"type": "proxy", "hosts": [f.lb], "units": ["nginx.service"], "ports": [80, 443], "depends_on": ["app"]},
        "app": {"type": "api", "hosts": list(f.apps), "units": [f.app_unit], "aliases": [f.app_name, "gunicorn"], "ports": [8000],
                "depends_on": ["postgres", "redis", "rabbitmq"]},
        "worker": {"type": "worker", "hosts": [f.worker_host], "units": [f.worker_unit], "aliases": [f.worker_name],
                   "depends_on": ["rabbitmq", "postgres", "redis"]},
        "postgres": {"type": "database", "hosts": [f.db], "units": [f"postgresql@{f.pg_ver}-main.service"], "aliases": ["postgresql"], "ports": [5432]},
        "redis": {"type": "cache", "hosts": [f.cache], "units": ["redis-server.service"], "aliases": ["redis-server"], "ports": [6379]},
        "rabbitmq": {"type": "queue", "hosts": [f.mq], "units": ["rabbitmq-server.service"], "aliases": ["rabbitmq-server"], "ports": [5672]},
        "backup": {"type": "job", "hosts": [f.db], "units": ["db-backup.service"], "aliases": ["db-backup"], "depends_on": ["postgres"]},
        "apt": {"type": "system", "hosts": list(f.hosts), "units": ["apt-daily-upgrade.service", "unattended-upgrades.service"],
                "aliases": ["unattended-upgrades", "dpkg", "needrestart"]},
        "sshd": {"type": "system", "hosts": list(f.hosts), "units": ["ssh.service"], "aliases": ["sshd"]},
        "cron": {"type": "system", "hosts": list(f.hosts), "units": ["cron.service"], "aliases": ["CRON"]},
        "systemd": {"type": "system", "hosts": list(f.hosts), "units": ["init.scope"]},
        "kernel": {"type": "kernel", "hosts": list(f.hosts)},
    }
    inventory = {"hosts": hosts, "services": services}
    control = scenario.startswith("control")
    root_err = any(lv in ("error", "critical") for lv in f.root_levels)
    case = {"title": rng.choice(TITLES_CONTROL if control else TITLES_FAULT), "split": "test"}
    if control:
        tags = ["medium" if scenario in ("control-backup", "control-surge") else "easy", "saas", "control",
                scenario.split("-", 1)[1]]
        case["tags"] = tags
        case["window"] = {"start": iso_z(fault), "end": iso_z(fault + window)}
        case["expect"] = {"incident": False}
    else:
        # the dependents whose lines the fault changes, by construction of the scenario
        impacted = {"db-connections": ["app", "nginx", "worker"], "redis-oom": ["app", "nginx", "worker"],
                    "disk-alarm": ["app", "nginx"], "crash-loop": [], "upstream-down": ["nginx"],
                    "slow-disk": ["app", "nginx"], "silent-worker": ["app"], "oom-kill": ["nginx"]}[scenario]
        quiet = scenario in ("silent-worker", "redis-oom", "slow-disk")
        diff = "hard" if quiet else ("medium" if scenario in ("disk-alarm", "db-connections", "oom-kill") else "easy")
        tags = [diff, "saas", scenario, "root-logs-error" if root_err else "root-logs-no-error"]
        if quiet:
            tags.append("quiet")
        case["tags"] = tags
        case["window"] = {"start": iso_z(fault), "end": iso_z(fault + window)}
        rc = {"service": root_svc}
        if root_svc == "app" or scenario == "slow-disk":
            rc["host"] = f.root_host or f.db
        case["expect"] = {"incident": True, "root_cause": rc}
        if impacted:
            case["expect"]["impacted"] = impacted
        ev = {"db-connections": [f.pg_msg.split(" ")[0] == "sorry" and "too many clients" or "remaining connection slots"],
              "redis-oom": ["maxmemory"], "disk-alarm": ["disk resource limit alarm"], "crash-loop": ["nil pointer dereference"],
              "upstream-down": ["Worker failed to boot"], "slow-disk": ["blocked for more than 120 seconds"], "silent-worker": [],
              "oom-kill": ["Out of memory: Killed process"]}[scenario]
        if ev:
            case["expect"]["evidence"] = ev
    meta = {"family": "saas", "fault": scenario, "root": root_svc or "-", "lines": len(recs),
            "impacted": case["expect"].get("impacted", []), "root_error": root_err,
            "history_s": (t_fault - start) / 1000}
    return case, recs, inventory, meta


def role_of(f: Fleet, h: str) -> str:
    roles = []
    if h == f.lb:
        roles.append("edge")
    if h in f.apps:
        roles.append("application")
    if h == f.db:
        roles.append("database")
    if h in (f.cache, f.mq):
        roles.append("broker")
    if h == f.worker_host:
        roles.append("worker")
    return "+".join(roles)
