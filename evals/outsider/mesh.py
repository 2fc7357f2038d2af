"""Family "mesh": microservice systems of 12-40 services under a gateway, traced requests.

Per case the RNG first draws the system (size, names, languages, call graph, hosts,
inventory style), then the fault (cpu, delay, exception, wrong-return) and the root cause
(uniform over the non-gateway services); only then are the logs simulated: every request
walks the call tree, each span logs its lines with timestamps nested in its caller's call.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from evals.outsider import formats as F
from evals.outsider.common import Log, alnum, dt, hexid, iso_z, ms_of
from evals.outsider.formats import clf_time
from evals.outsider.names import (AUTH_NAMES, DOMAINS, GATEWAY_NAMES, HUB_NAMES, NODE_STYLES, ORGS, PREFIXES,
                                  SUFFIXES)

FAULTS = ["cpu", "delay", "exception", "wrong-return"]


def camel(s: str) -> str:
    return "".join(p.capitalize() for p in s.replace("_", "-").split("-"))


def plural(noun: str) -> str:
    noun = noun.split("-")[-1]
    if noun.endswith("s"):
        return noun
    if noun.endswith(("x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


@dataclass
class Edge:
    child: "Svc"
    p: float
    timeout: float
    client: str
    slow_thr: float | None
    fallback: bool
    cb: bool
    wrong_kind: str
    hist: deque = field(default_factory=lambda: deque(maxlen=10))
    open_until: float = -1.0
    cb_open_ms: float = 30000.0


@dataclass
class Svc:
    name: str
    noun: str
    lang: str
    fmt: str
    host: str
    port: int
    pid: int
    pkg: str
    self_ms: float
    share: float
    recv: int
    call_style: int
    done: int
    endpoints: list
    edges: list = field(default_factory=list)
    callers: list = field(default_factory=list)
    gateway: bool = False
    hikari: bool = False
    client_abort: bool = False
    iso_ts: bool = False
    access_log: bool = False
    noise: list = field(default_factory=list)


class Mesh:
    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng = rng
        self.build(n)

    # ------------------------------------------------------------------ system
    def build(self, n: int) -> None:
        r = self.rng
        domain = r.choice(sorted(DOMAINS))
        nouns = DOMAINS[domain][:]
        r.shuffle(nouns)
        extra = sorted({x for d, v in DOMAINS.items() if d != domain for x in v} - set(nouns))
        r.shuffle(extra)
        nouns += extra
        prefix, suffix = r.choice(PREFIXES), r.choice(SUFFIXES)
        self.org = r.choice(ORGS)
        self.trace_len = r.choice([16, 32, 32])
        java_share = r.uniform(0.5, 0.85)
        self.boot = r.choice(["boot2", "boot2", "boot3"])
        gw_name = r.choice(GATEWAY_NAMES)
        auth_noun = r.choice(AUTH_NAMES)
        hub_noun = r.choice([h for h in HUB_NAMES])
        nouns = [x for x in nouns if x not in (auth_noun, hub_noun)]
        names = [(gw_name, "gateway"), (prefix + auth_noun + suffix, auth_noun), (prefix + hub_noun + suffix, hub_noun)]
        for x in nouns[: n - 3]:
            names.append((prefix + x + suffix, x))
        self.host_mode = r.choice(["pod", "nodes"])
        nodes = []
        if self.host_mode == "nodes":
            style = r.choice(NODE_STYLES)
            nodes = [style(i, r) for i in range(r.randint(3, 6))]
        other_langs = r.sample(["go", "node", "python"], k=r.randint(1, 3))
        self.services: list[Svc] = []
        for i, (name, noun) in enumerate(names):
            if i == 0:
                lang = "java"
            else:
                lang = "java" if r.random() < java_share else r.choice(other_langs)
            fmt = {"java": self.boot if r.random() < 0.85 else ("boot3" if self.boot == "boot2" else "boot2"),
                   "go": r.choice(["zap", "zap", "logfmt"]), "node": "pino", "python": "structlog"}[lang]
            host = (f"{name}-{alnum(r, 10)}-{alnum(r, 5)}" if self.host_mode == "pod" else r.choice(nodes))
            port = {"java": 8080, "go": r.choice([8080, 9000, 8081]), "node": 3000, "python": 8000}[lang]
            ep_n = r.randint(1, 3)
            pl = plural(noun)
            base = "/api/v1" if r.random() < 0.5 else "/api"
            eps = []
            for k in range(ep_n):
                eps.append(r.choice([("GET", f"{base}/{pl}/{{id}}"), ("GET", f"{base}/{pl}"), ("POST", f"{base}/{pl}"),
                                     ("GET", f"{base}/{pl}/{{id}}/status"), ("PUT", f"{base}/{pl}/{{id}}"),
                                     ("POST", f"{base}/{pl}/search"), ("GET", f"{base}/{pl}/{{id}}/summary")]))
            eps = sorted(set(eps))
            recv, cs, done = r.choice([(1, 1, 1), (1, 0, 1), (0, 1, 1), (1, 1, 0), (0, 0, 1), (1, 0, 0), (1, 2, 1),
                                       (0, 2, 1)])
            s = Svc(name=name, noun=noun, lang=lang, fmt=fmt, host=host, port=port,
                    pid=r.choice([1, 1, 7, r.randint(20, 400)]), pkg=f"{self.org}.{noun.replace('-', '')}",
                    self_ms=r.lognormvariate(2.3, 0.7), share=r.uniform(0.2, 0.8), recv=recv, call_style=cs,
                    done=done, endpoints=eps, gateway=(i == 0), iso_ts=r.random() < 0.5,
                    hikari=(lang == "java" and r.random() < 0.6), client_abort=(lang == "java" and r.random() < 0.6),
                    access_log=(lang == "python" and r.random() < 0.7))
            self.services.append(s)
        self.gw, self.auth, self.hub = self.services[0], self.services[1], self.services[2]
        self.gw.self_ms = r.uniform(1, 4)
        rest = self.services[3:]
        n_front = min(len(rest) - 2, r.randint(3, 7))
        fronts = rest[:n_front]
        remaining = rest[n_front:]
        n_leaf = max(2, int(len(remaining) * r.uniform(0.3, 0.5)))
        mids, leaves = remaining[:-n_leaf], remaining[-n_leaf:]
        self.fronts = fronts

        def link(a: Svc, b: Svc, p: float | None = None) -> None:
            if any(e.child is b for e in a.edges):
                return
            java = a.lang == "java"
            e = Edge(child=b, p=p if p is not None else r.uniform(0.45, 1.0),
                     timeout=(r.choice([5000, 8000, 10000]) if a.gateway else r.choice([800, 1000, 1500, 2000, 2500, 3000, 5000])),
                     client=(r.choice(["feign", "feign", "rest"]) if java else "http"),
                     slow_thr=(r.choice([300, 500, 1000]) if r.random() < 0.4 else None),
                     fallback=r.random() < 0.3, cb=(java and r.random() < 0.4),
                     wrong_kind=r.choice(["validation", "empty", "retry", "default"]),
                     cb_open_ms=r.uniform(20000, 60000))
            a.edges.append(e)
            b.callers.append(a)

        link(self.gw, self.auth, 1.0)
        for f in fronts:
            link(self.gw, f, 1.0)
        if leaves and r.random() < 0.5:
            link(self.auth, r.choice(leaves), r.uniform(0.3, 1.0))
        for hl in r.sample(leaves, k=min(len(leaves), r.randint(0, 2))):
            link(self.hub, hl)
        for i, f in enumerate(fronts):
            pool = mids + leaves
            for c in r.sample(pool, k=min(len(pool), r.randint(1, 3))):
                link(f, c)
            if r.random() < 0.65:
                link(f, self.hub, r.uniform(0.7, 1.0))
            if r.random() < 0.3:
                link(f, self.auth, r.uniform(0.5, 1.0))
        for j, m in enumerate(mids):
            pool = mids[j + 1:] + leaves
            for c in r.sample(pool, k=min(len(pool), r.randint(0, 2))):
                link(m, c)
            if r.random() < 0.5:
                link(m, self.hub, r.uniform(0.6, 1.0))
        for j, s in enumerate(mids + leaves):
            if not s.callers:
                idx = (mids + leaves).index(s)
                cands = fronts + (mids[:idx] if s in mids else mids)
                link(r.choice(cands), s, r.uniform(0.6, 1.0))
        if not self.hub.callers:
            link(r.choice(fronts), self.hub, 0.9)
        # periodic background per service
        for s in self.services:
            if s.gateway:
                continue
            if r.random() < 0.45:
                s.noise.append(("refresh", r.uniform(45000, 120000)))
            if s.lang == "java" and r.random() < 0.5:
                s.noise.append(("eureka", 300000.0))
            if s.lang == "java" and s.hikari and r.random() < 0.12:
                s.noise.append(("dupkey", r.uniform(60000, 240000)))
            if s.lang != "java" and r.random() < 0.15:
                s.noise.append(("warnish", r.uniform(60000, 200000)))

    # ------------------------------------------------------------------ fault
    def set_fault(self, fault: str, root: Svc, t_fault: float) -> None:
        r = self.rng
        self.fault, self.root, self.t_fault = fault, root, t_fault
        self.cpu_k = r.uniform(2.0, 10.0)
        self.delay_ms = r.uniform(200, 2000)
        self.fail_frac = r.uniform(0.35, 1.0)
        self.exc_mode = r.choice(["logs", "silent"])
        self.bad_ep = r.choice(root.endpoints) if (len(root.endpoints) > 1 and r.random() < 0.5) else None
        self.wrong_frac = r.uniform(0.4, 1.0)
        self.exc = self._pick_exception(root)
        self.effects: dict[str, list[str]] = {}
        self.root_levels: list[str] = []

    def _pick_exception(self, s: Svc):
        r = self.rng
        cls = camel(s.noun)
        if s.lang == "java":
            return r.choice([
                ("java.lang.NullPointerException", f"Cannot invoke \"{self.org}.{s.noun.replace('-', '')}.domain.{cls}.getCode()\" because \"entity\" is null"),
                ("java.lang.IllegalStateException", f"{cls} in unexpected state: PENDING_REVIEW"),
                ("org.hibernate.LazyInitializationException", f"could not initialize proxy [{self.org}.{s.noun.replace('-', '')}.domain.{cls}#{r.randint(100, 9999)}] - no Session"),
                ("java.lang.ArithmeticException", "/ by zero"),
                ("com.fasterxml.jackson.databind.exc.MismatchedInputException", "Cannot deserialize value of type `java.math.BigDecimal` from Array value (token `JsonToken.START_ARRAY`)"),
                ("java.util.NoSuchElementException", "No value present"),
                ("org.springframework.dao.InvalidDataAccessResourceUsageException", "could not extract ResultSet; SQL [n/a]; nested exception is org.hibernate.exception.SQLGrammarException: could not extract ResultSet"),
            ])
        if s.lang == "go":
            return r.choice([("panic", "runtime error: invalid memory address or nil pointer dereference"),
                              ("panic", "runtime error: index out of range [3] with length 3"),
                              ("error", "json: cannot unmarshal string into Go struct field .amount of type float64"),
                              ("error", "sql: Scan error on column index 2, name \"valid_to\": unsupported Scan, storing driver.Value type <nil> into type *time.Time")])
        if s.lang == "node":
            return r.choice([("TypeError", "Cannot read properties of undefined (reading 'amount')"),
                             ("TypeError", "Cannot destructure property 'id' of 'undefined' as it is undefined."),
                             ("RangeError", "Invalid time value"),
                             ("SyntaxError", "Unexpected token u in JSON at position 0")])
        return r.choice([("KeyError", "'valid_from'"), ("TypeError", "unsupported operand type(s) for +: 'NoneType' and 'int'"),
                         ("ValueError", "invalid literal for int() with base 10: ''"),
                         ("AttributeError", "'NoneType' object has no attribute 'get'")])

    # ------------------------------------------------------------------ emitting
    def emit(self, log: Log, s: Svc, ms: float, level: str, kind: str, ctx: dict, effect: bool = False, **kw) -> None:
        r = self.rng
        trace, span = (ctx["trace"], ctx["span"]) if ctx.get("trace") else (None, None)
        text, fields, logger, stack = self.render(s, level, kind, kw)
        if s.lang == "java":
            thread = kw.get("thread") or ctx.get("thread") or "main"
            if stack:
                text = text + "\n" + stack
            msg = F.java_line(s.fmt, s.name, s.pid, ms, level, thread, logger, text, trace, span)
        elif s.fmt == "zap":
            msg = F.zap_line(s.iso_ts, ms, level, logger, text, fields, trace, span, stack)
        elif s.fmt == "logfmt":
            if stack:
                fields = dict(fields, stack=stack.replace("\n", "\\n"))
            msg = F.logfmt_line(ms, level, text, fields, trace, span)
        elif s.fmt == "pino":
            if stack:
                fields = dict(fields)
                fields["err"] = dict(fields.get("err", {}), stack=stack)
            msg = F.pino_line(ms, level, s.pid, s.host if self.host_mode == "pod" else f"{s.name}-{alnum(r, 5)}",
                              s.name, text, fields, trace, span)
        else:
            if kind == "access":
                msg = text
            else:
                msg = F.structlog_line(ms, level, logger, text, fields, trace, span, stack)
        log.add(ms, s.host, s.name, level, msg, trace_id=trace, span_id=span)
        if ms >= self.t_fault:
            if s is self.root:
                self.root_levels.append(level)
            elif effect:
                self.effects.setdefault(s.name, []).append(kw.get("key", kind))

    def render(self, s: Svc, level: str, kind: str, kw: dict):
        """(text, fields, logger-or-caller, stack) of one event in the service's own idiom."""
        cls = camel(s.noun)
        pk = s.pkg
        lang = s.lang
        k = kw
        if kind == "recv":
            method, path = k["method"], k["path"]
            v = hash_pick(s.name, 5)
            if lang == "java":
                t = [f"Received {method} {path}", f"Handling request {method} {path}", f"Incoming request: {method} {path}",
                     f"{method} {path} started", f"Processing {s.noun} request for id={k['id']}"][v]
                return t, {}, f"{pk}.web.{cls}Controller", None
            if lang == "go":
                return "request received", {"method": method, "path": path}, f"http/{s.noun.replace('-', '_')}_handler.go:{40 + v}", None
            if lang == "node":
                return "incoming request", {"req": {"id": k["rid"], "method": method, "url": path}}, "", None
            return "request_started", {"method": method, "path": path}, f"app.api.{s.noun.replace('-', '_')}", None
        if kind == "calling":
            c = k["child"]
            url = k["url"]
            if lang == "java":
                if s.call_style == 2:
                    return f"[{camel(c.noun)}Client#{k['op']}] ---> {k['method']} {url} HTTP/1.1", {}, f"{pk}.client.{camel(c.noun)}Client", None
                v = hash_pick(s.name + c.name, 3)
                t = [f"Calling {c.name} for {s.noun} {k['id']}", f"Fetching {c.noun} data from {c.name}",
                     f"Requesting {plural(c.noun)} from {url}"][v]
                return t, {}, f"{pk}.service.{cls}Service", None
            if lang == "go":
                return "calling upstream", {"upstream": c.name, "url": url}, f"client/{c.noun.replace('-', '_')}.go:{30 + len(c.noun)}", None
            if lang == "node":
                return f"calling {c.name}", {"url": url}, "", None
            return "upstream_call", {"service": c.name, "url": url}, f"app.clients.{c.noun.replace('-', '_')}", None
        if kind == "feign_resp":
            c = k["child"]
            return f"[{camel(c.noun)}Client#{k['op']}] <--- HTTP/1.1 {k['status']} ({int(k['elapsed'])}ms)", {}, f"{pk}.client.{camel(c.noun)}Client", None
        if kind == "done":
            st, d, method, path = k["status"], k["dur"], k["method"], k["path"]
            v = hash_pick(s.name, 4)
            if lang == "java":
                t = [f"Completed {method} {path} -> {st} in {int(d)} ms", f"Request processed in {int(d)}ms (status={st})",
                     f"{method} {path} finished: status={st} duration={int(d)}ms", f"Done {s.noun} {k['id']} [{st}] {int(d)} ms"][v]
                return t, {}, f"{pk}.web.RequestLoggingFilter" if v != 3 else f"{pk}.service.{cls}Service", None
            if lang == "go":
                return "request completed", {"method": method, "path": path, "status": st, "duration": round(d / 1000, 6)}, f"http/middleware.go:{60 + v}", None
            if lang == "node":
                return "request completed", {"req": {"id": k["rid"], "method": method, "url": path}, "res": {"statusCode": st}, "responseTime": int(d)}, "", None
            return "request_finished", {"method": method, "path": path, "status": st, "duration_ms": round(d, 1)}, "app.middleware", None
        if kind == "access":  # gunicorn access log line (python)
            return (f"10.{k['ip']} - - [{clf_time(k['at'])}] \"{k['method']} {k['path']} HTTP/1.1\" {k['status']} {k['size']} \"-\" \"{k['ua']}\""), {}, "gunicorn.access", None
        if kind in ("timeout", "http5xx", "cbopen"):
            return self.render_failure(s, kind, k)
        if kind == "fallback":
            c = k["child"]
            if lang == "java":
                return f"Falling back to cached {c.noun} data for {k['id']}: {k['reason']}", {}, f"{pk}.service.{camel(c.noun)}Fallback", None
            if lang == "go":
                return "using fallback", {"upstream": c.name, "reason": k["reason"]}, f"client/{c.noun.replace('-', '_')}.go:88", None
            if lang == "node":
                return f"{c.name} unavailable, serving fallback", {"reason": k["reason"]}, "", None
            return "upstream_fallback", {"service": c.name, "reason": k["reason"]}, "app.clients", None
        if kind == "slow":
            c = k["child"]
            if lang == "java":
                return f"Slow response from {c.name}: {int(k['elapsed'])} ms (threshold {int(k['thr'])} ms)", {}, f"{pk}.client.TimingInterceptor", None
            if lang == "go":
                return "slow upstream response", {"upstream": c.name, "elapsed": f"{k['elapsed'] / 1000:.3f}s"}, "client/timing.go:41", None
            if lang == "node":
                return "slow upstream response", {"upstream": c.name, "elapsedMs": int(k["elapsed"])}, "", None
            return "slow_upstream", {"service": c.name, "elapsed_ms": int(k["elapsed"])}, "app.clients", None
        if kind == "wrong":
            return self.render_wrong(s, k)
        if kind == "exception":
            return self.render_exception(s, k)
        if kind == "client_abort":
            return ("Resolved [org.apache.catalina.connector.ClientAbortException: java.io.IOException: Broken pipe]", {},
                    "org.springframework.web.servlet.mvc.method.annotation.ExceptionHandlerExceptionResolver", None)
        if kind == "hikari":
            return (f"HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta={k['delta']}).", {},
                    "com.zaxxer.hikari.pool.HikariPool", None)
        if kind == "cbstate":
            c = k["child"]
            return f"CircuitBreaker '{c.name}' changed state from {k['a']} to {k['b']}", {}, f"{pk}.config.ResilienceConfig", None
        if kind == "refresh":
            n, d = k["n"], k["dur"]
            if lang == "java":
                return f"Refreshed {n} {k['what']} entries in {int(d)} ms", {}, f"{pk}.jobs.CacheRefresher", None
            if lang == "go":
                return "cache refreshed", {"entries": n, "took": f"{d:.1f}ms"}, "cache/refresher.go:77", None
            if lang == "node":
                return "cache refreshed", {"entries": n, "durationMs": int(d)}, "", None
            return "cache_refreshed", {"entries": n, "duration_ms": round(d, 1)}, "app.tasks", None
        if kind == "eureka":
            return "Resolving eureka endpoints via configuration", {}, "com.netflix.discovery.shared.resolver.aws.ConfigClusterResolver", None
        if kind == "dupkey1":
            return "SQL Error: 0, SQLState: 23505", {}, "org.hibernate.engine.jdbc.spi.SqlExceptionHelper", None
        if kind == "dupkey2":
            return (f"ERROR: duplicate key value violates unique constraint \"uk_{s.noun.replace('-', '_')}_external_ref\"\n"
                    f"  Detail: Key (external_ref)=({k['ref']}) already exists."), {}, "org.hibernate.engine.jdbc.spi.SqlExceptionHelper", None
        if kind == "warnish":
            if lang == "go":
                return "kafka: client has run out of available brokers to talk to, retrying", {"attempt": 1}, "events/producer.go:112", None
            if lang == "node":
                return "DeprecationWarning: Buffer() is deprecated due to security and usability issues", {}, "", None
            return "slow_query", {"table": f"{s.noun.replace('-', '_')}_items", "duration_ms": k["d"]}, "app.db", None
        if kind == "gw_route":
            return f"Incoming request {k['method']} {k['path']} routed to lb://{k['front']}", {}, f"{self.org}.gateway.filter.RequestLoggingFilter", None
        if kind == "gw_access":
            return (f"10.{k['ip']} - - [{clf_time(k['at'])}] \"{k['method']} {k['path']} HTTP/1.1\" {k['status']} {k['size']} 8080 {int(k['dur'])} ms"), {}, "reactor.netty.http.server.AccessLog", None
        if kind == "gw_timeout":
            return (f"[{k['rid']}]  500 Server Error for HTTP {k['method']} \"{k['path']}\"",
                    {}, "org.springframework.boot.autoconfigure.web.reactive.error.AbstractErrorWebExceptionHandler",
                    f"org.springframework.cloud.gateway.support.TimeoutException: Response took longer than timeout: PT{int(k['to'] / 1000)}S")
        if kind == "token":
            if lang == "java":
                return f"Token validated for subject {k['sub']}", {}, f"{pk}.security.JwtTokenValidator", None
            if lang == "go":
                return "token ok", {"sub": k["sub"]}, "auth/validate.go:52", None
            if lang == "node":
                return "token verified", {"sub": k["sub"]}, "", None
            return "token_verified", {"sub": k["sub"]}, "app.auth", None
        raise ValueError(kind)

    def render_failure(self, s: Svc, kind: str, k: dict):
        c, url, method = k["child"], k["url"], k["method"]
        lang, pk = s.lang, s.pkg
        if lang == "java":
            ex = None
            if kind == "cbopen":
                ex = f"io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker '{c.name}' is OPEN and does not permit further calls"
            elif kind == "timeout":
                if k["client"] == "feign":
                    ex = f"feign.RetryableException: Read timed out executing {method} {url}"
                else:
                    ex = (f"org.springframework.web.client.ResourceAccessException: I/O error on {method} request for \"{url}\": "
                          f"Read timed out; nested exception is java.net.SocketTimeoutException: Read timed out")
            else:
                body = '{"timestamp":"%s","status":%d,"error":"Internal Server Error","path":"%s"}' % (
                    dt(k["at"]).strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+00:00" % (dt(k["at"]).microsecond // 1000), k["status"], k["cpath"])
                if k["client"] == "feign":
                    ex = f"feign.FeignException$InternalServerError: [{k['status']} Internal Server Error] during [{method}] to [{url}] [{camel(c.noun)}Client#{k['op']}]: [{body}]"
                else:
                    ex = f"org.springframework.web.client.HttpServerErrorException$InternalServerError: {k['status']} Internal Server Error: \"{body}\""
            if k.get("handled"):
                return f"Call to {c.name} failed: {ex}", {}, f"{pk}.service.{camel(s.noun)}Service", None
            frames = "\n".join([f"\tat {self.stack_frame(s, c)}", "\tat jdk.internal.reflect.GeneratedMethodAccessor212.invoke(Unknown Source)",
                                "\tat org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:205)",
                                "\t... 48 common frames omitted" if kind != "cbopen" else "\t... 52 common frames omitted"])
            return (f"Request {method} {k['spath']} failed", {}, f"{pk}.web.GlobalExceptionHandler", ex + "\n" + frames)
        if lang == "go":
            if kind == "timeout":
                err = f"Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)" if method == "GET" else \
                    f"Post \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            else:
                err = f"unexpected status {k['status']} from {c.name}"
            return ("upstream call failed", {"upstream": c.name, "error": err}, f"client/{c.noun.replace('-', '_')}.go:{70 + len(c.name) % 9}", None)
        if lang == "node":
            if kind == "timeout":
                er = {"type": "AxiosError", "message": f"timeout of {int(k['to'])}ms exceeded", "code": "ECONNABORTED"}
            else:
                er = {"type": "AxiosError", "message": f"Request failed with status code {k['status']}", "code": "ERR_BAD_RESPONSE"}
            return (f"request to {c.name} failed", {"err": er}, "", None)
        host = url.split("//")[1].split(":")[0]
        if kind == "timeout":
            ex = f"requests.exceptions.ReadTimeout: HTTPConnectionPool(host='{host}', port={c.port}): Read timed out. (read timeout={k['to'] / 1000:.1f})"
        else:
            ex = f"requests.exceptions.HTTPError: {k['status']} Server Error: Internal Server Error for url: {url}"
        return ("upstream_call_failed", {"service": c.name}, "app.clients", ex)

    def stack_frame(self, s: Svc, c: Svc) -> str:
        return f"{s.pkg}.client.{camel(c.noun)}Client$$SpringCGLIB$$0.get{camel(c.noun)}(<generated>)" if s.fmt == "boot3" else \
            f"{s.pkg}.service.{camel(s.noun)}Service.load{camel(c.noun)}({camel(s.noun)}Service.java:{80 + len(c.noun) * 3})"

    def render_wrong(self, s: Svc, k: dict):
        c, kind, i, lang, pk = k["child"], k["wk"], k["id"], s.lang, s.pkg
        f = hash_pick(s.name + c.name, 4)
        field_name = ["total", "currency", "validTo", "version"][f]
        if kind == "validation":
            a, b = k["a"], k["b"]
            if lang == "java":
                return f"Validation failed for {s.noun} {i}: {field_name} mismatch (expected {a}, got {b})", {}, f"{pk}.service.{camel(s.noun)}Validator", None
            if lang == "go":
                return "validation failed", {"id": i, "field": field_name, "want": a, "got": b}, "domain/validate.go:33", None
            if lang == "node":
                return "validation failed", {"id": i, "field": field_name, "expected": a, "actual": b}, "", None
            return "validation_failed", {"id": i, "field": field_name, "expected": a, "got": b}, "app.domain", None
        if kind == "empty":
            if lang == "java":
                return f"No {c.noun} found for {s.noun} {i}, returning empty result", {}, f"{pk}.service.{camel(s.noun)}Service", None
            if lang == "go":
                return "no result", {"upstream": c.name, "id": i}, "domain/lookup.go:58", None
            if lang == "node":
                return f"no {c.noun} result for {i}", {}, "", None
            return "no_result", {"service": c.name, "id": i}, "app.domain", None
        if kind == "retry":
            if k.get("giveup"):
                if lang == "java":
                    return f"Giving up on {s.noun} {i} after {k['n']} attempts: {c.name} returned inconsistent state", {}, f"{pk}.service.{camel(s.noun)}Service", None
                return self._generic(lang, "giving up after retries", {"upstream": c.name, "id": i, "attempts": k["n"]}, "domain/retry.go:21")
            if lang == "java":
                return f"Unexpected state UNKNOWN from {c.name} for {i}, retrying ({k['n']}/3)", {}, f"{pk}.service.{camel(s.noun)}Service", None
            return self._generic(lang, "unexpected upstream state, retrying", {"upstream": c.name, "id": i, "attempt": k["n"]}, "domain/retry.go:17")
        if lang == "java":
            return f"{c.name} returned null {field_name} for {i}, using default", {}, f"{pk}.service.{camel(s.noun)}Service", None
        return self._generic(lang, "using default value", {"upstream": c.name, "field": field_name, "id": i}, "domain/defaults.go:12")

    @staticmethod
    def _generic(lang: str, text: str, fields: dict, go_caller: str):
        if lang == "go":
            return text, fields, go_caller, None
        if lang == "node":
            return text, fields, "", None
        return text.replace(",", "").replace(" ", "_"), fields, "app.domain", None

    def render_exception(self, s: Svc, k: dict):
        exc, msg = self.exc
        cls = camel(s.noun)
        if s.lang == "java":
            frames = "\n".join([
                f"\tat {s.pkg}.service.{cls}Service.resolve{cls}({cls}Service.java:{140 + len(s.noun)})",
                f"\tat {s.pkg}.service.{cls}Service.get{cls}({cls}Service.java:{88 + len(s.noun)})",
                f"\tat {s.pkg}.web.{cls}Controller.get({cls}Controller.java:{41 + len(s.noun)})",
                "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
                "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)",
                "\tat org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
                "\tat org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:118)",
                "\tat org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
                "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:174)",
                "\tat org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:659)",
                "\tat java.base/java.lang.Thread.run(Thread.java:1583)"])
            if s.fmt == "boot3":
                head = f"Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request processing failed: {exc}: {msg}] with root cause"
            else:
                head = f"Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request processing failed; nested exception is {exc}: {msg}] with root cause"
            return head, {}, "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/].[dispatcherServlet]", f"\n{exc}: {msg}\n{frames}"
        if s.lang == "go":
            n = s.noun.replace("-", "_")
            st = (f"main.(*{cls}Handler).ServeHTTP\n\t/src/internal/http/{n}_handler.go:{97 + len(n)}\n"
                  f"net/http.serverHandler.ServeHTTP\n\t/usr/local/go/src/net/http/server.go:3137\n"
                  f"net/http.(*conn).serve\n\t/usr/local/go/src/net/http/server.go:2039")
            if exc == "panic":
                return "panic recovered", {"error": msg, "method": k["method"], "path": k["path"]}, "http/recover.go:24", st
            return "failed to handle request", {"error": msg, "method": k["method"], "path": k["path"]}, f"http/{n}_handler.go:{101 + len(n)}", st
        if s.lang == "node":
            n = s.noun.replace("-", "")
            st = (f"{exc}: {msg}\n    at {cls}Service.compute (/app/dist/services/{n}.service.js:{57 + len(n)}:31)\n"
                  f"    at async {cls}Controller.get (/app/dist/controllers/{n}.controller.js:22:18)")
            return "request errored", {"req": {"id": k["rid"], "method": k["method"], "url": k["path"]}, "res": {"statusCode": 500},
                                       "err": {"type": exc, "message": msg}}, "", st
        n = s.noun.replace("-", "_")
        tb = (f"Traceback (most recent call last):\n  File \"/app/app/api/{n}.py\", line {70 + len(n)}, in get_{n}\n"
              f"    result = service.compute(item)\n  File \"/app/app/services/{n}.py\", line {112 + len(n)}, in compute\n"
              f"    return base + item[\"delta\"]\n{exc}: {msg}")
        return "unhandled_exception", {"method": k["method"], "path": k["path"]}, f"app.api.{n}", tb

    # ------------------------------------------------------------------ simulation
    def path_of(self, ep, i) -> str:
        return ep[1].replace("{id}", str(i))

    def span(self, log: Log, s: Svc, t0: float, ctx: dict, ep, path: str | None = None, ident: int | None = None,
             token: bool = False) -> tuple[float, int, str]:
        """Run s's handler from t0; returns (time the response leaves, status, payload)."""
        r = self.rng
        sctx = dict(ctx)
        if ctx.get("trace"):
            sctx["span"] = hexid(r, 16)
        sctx["thread"] = (f"http-nio-{s.port}-exec-{r.randint(1, 200)}" if s.lang == "java" else None)
        rid = r.randint(1, 99999)
        method = ep[0]
        if ident is None:
            ident = r.randint(1000, 999999)
        if path is None:
            path = self.path_of(ep, ident)
        faulty = s is self.root and t0 >= self.t_fault
        slow = self.cpu_k if (faulty and self.fault == "cpu") else 1.0
        t = t0 + r.uniform(0.1, 0.8)
        if s.recv:
            self.emit(log, s, t, "info", "recv", sctx, method=method, path=path, id=ident, rid=rid)
        self_ms = s.self_ms * r.lognormvariate(0, 0.35)
        t += self_ms * s.share * slow
        if slow > 1.0:
            # CFS throttling and run-queue waits: stalls in 100 ms periods, now and then a long one
            if r.random() < 0.5:
                t += 100.0 * r.randint(1, 8)
            if r.random() < 0.08:
                t += r.uniform(800, 4000)
        status, payload = 200, "ok"
        # exception in the root: fails before calling on
        if faulty and self.fault == "exception" and (self.bad_ep is None or ep == self.bad_ep) and r.random() < self.fail_frac:
            t += r.uniform(0.5, 3) * slow
            if self.exc_mode == "logs":
                self.emit(log, s, t, "error", "exception", sctx, method=method, path=path, rid=rid)
            if s.access_log:
                self.emit(log, s, t + 0.3, "info", "access", sctx, at=t, method=method, path=path, status=500, size=265,
                          ip=f"{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(2, 254)}", ua="python-requests/2.31.0")
            return t + 0.5, 500, "error"
        for e in s.edges:
            if r.random() > e.p:
                continue
            t, st, pl = self.call(log, s, e, t, sctx, ident, path, method)
            if st >= 500 and st != 599:
                status = st if st in (500, 502, 503, 504) else 500
                break
            if st >= 400:
                status = st
        t += self_ms * (1 - s.share) * slow
        if status == 599:
            status = 500
        if token and status == 200:
            self.emit(log, s, t - 0.05, "info", "token", sctx, sub=f"u-{r.randint(1000, 99999)}")
        if s.done:
            self.emit(log, s, t, "info", "done", sctx, status=status, dur=t - t0, method=method, path=path, id=ident, rid=rid)
        if s.access_log:
            self.emit(log, s, t + 0.2, "info", "access", sctx, at=t, method=method, path=path, status=status,
                      size=r.randint(80, 4000), ip=f"{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(2, 254)}",
                      ua=r.choice(["python-requests/2.31.0", "Apache-HttpClient/5.2.1 (Java/17.0.9)", "Go-http-client/1.1", "axios/1.6.2"]))
        payload = "ok"
        if faulty and self.fault == "wrong-return" and r.random() < self.wrong_frac:
            payload = "wrong"
        return t, status, payload

    def call(self, log: Log, s: Svc, e: Edge, t: float, ctx: dict, ident: int, spath: str, smethod: str):
        r = self.rng
        c = e.child
        cep = r.choice(c.endpoints)
        cid = r.randint(1000, 999999)
        cpath = self.path_of(cep, cid)
        url = f"http://{c.name}:{c.port}{cpath}"
        op = ("get" if cep[0] == "GET" else "create" if cep[0] == "POST" else "update") + camel(c.noun)
        op += "(" + ("Long" if "{id}" in cep[1] else "Map") + ")"
        kw = dict(child=c, url=url, method=cep[0], op=op, id=ident, cpath=cpath, spath=spath, client=e.client, to=e.timeout)
        if e.cb and e.open_until > t:
            self.emit(log, s, t + 0.2, "warning" if e.fallback else "error", "cbopen", ctx, effect=True, key="CallNotPermittedException",
                      handled=e.fallback, at=t, status=503, **kw)
            if e.fallback:
                self.emit(log, s, t + 0.3, "warning", "fallback", ctx, effect=True, key="fallback", child=c, id=ident, reason="circuit open")
                return t + 0.5, 200, "fallback"
            return t + 0.5, 503, "error"
        if s.call_style:
            self.emit(log, s, t, "debug" if s.call_style == 2 and s.lang == "java" else "info", "calling", ctx, **kw)
        attempts = 1
        while True:
            t_send = t + r.uniform(0.05, 0.3)
            t_arr = t_send + r.uniform(0.3, 2.0)
            cctx = dict(ctx)
            t_done, st, pl = self.span(log, c, t_arr, cctx, cep, cpath, cid)
            t_back = t_done + r.uniform(0.3, 2.0)
            if c is self.root and self.fault == "delay" and t_arr >= self.t_fault:
                t_back += self.delay_ms * r.uniform(0.8, 1.25)
            elapsed = t_back - t_send
            outcome = "ok" if st < 500 else "5xx"
            if elapsed > e.timeout:
                outcome = "timeout"
                t_back = t_send + e.timeout
                if c is self.root and self.fault == "cpu" and c.client_abort and t_done > t_back:
                    self.emit(log, c, t_done + 0.4, "warning", "client_abort", {"trace": cctx.get("trace"), "span": hexid(r, 16)} if cctx.get("trace") else {},
                              thread=f"http-nio-{c.port}-exec-{r.randint(1, 200)}")
            if e.cb:
                _was_open = e.open_until > 0
                e.hist.append(outcome != "ok")
                if len(e.hist) >= 6 and sum(e.hist) / len(e.hist) >= 0.5 and e.open_until < t_back:
                    e.open_until = t_back + e.cb_open_ms
                    e.hist.clear()
                    self.emit(log, s, t_back + 0.1, "warning", "cbstate", ctx, effect=True, key="changed state", child=c, a="CLOSED", b="OPEN")
            if s.call_style == 2 and s.lang == "java" and outcome != "timeout":
                self.emit(log, s, t_back, "debug", "feign_resp", ctx, child=c, op=op, status=st, elapsed=elapsed)
            t = t_back
            if outcome == "timeout" or outcome == "5xx":
                lvl = "warning" if e.fallback else "error"
                self.emit(log, s, t + 0.3, lvl, "timeout" if outcome == "timeout" else "http5xx", ctx, effect=True,
                          key="timeout" if outcome == "timeout" else "500", handled=e.fallback, at=t, status=st, **kw)
                if e.fallback:
                    self.emit(log, s, t + 0.5, "warning", "fallback", ctx, effect=True, key="fallback", child=c, id=ident,
                              reason=("read timeout" if outcome == "timeout" else f"HTTP {st}"))
                    return t + 1, 200, "fallback"
                return t + 1, (504 if outcome == "timeout" else 500), "error"
            if e.slow_thr and elapsed > e.slow_thr:
                self.emit(log, s, t + 0.1, "warning", "slow", ctx, effect=c is self.root, key="slow", child=c, elapsed=elapsed, thr=e.slow_thr)
            if pl == "wrong":
                wk = e.wrong_kind
                if wk == "retry":
                    if attempts < 3:
                        self.emit(log, s, t + 0.2, "warning", "wrong", ctx, effect=True, key="retrying", child=c, wk=wk, id=ident, n=attempts)
                        attempts += 1
                        t += r.uniform(50, 300)
                        continue
                    self.emit(log, s, t + 0.2, "warning", "wrong", ctx, effect=True, key="Giving up", child=c, wk=wk, id=ident, n=attempts, giveup=True)
                    return t + 1, 409, "error"
                if wk == "validation":
                    a = f"{r.randint(10, 900)}.{r.randint(0, 99):02d}"
                    self.emit(log, s, t + 0.2, "warning", "wrong", ctx, effect=True, key="Validation failed", child=c, wk=wk, id=ident, a=a, b="0.00")
                    return t + 0.6, 422, "error"
                if wk == "empty":
                    self.emit(log, s, t + 0.2, "info", "wrong", ctx, effect=True, key="No ", child=c, wk=wk, id=ident)
                    return t + 0.4, 404 if r.random() < 0.5 else 200, "empty"
                self.emit(log, s, t + 0.2, "info", "wrong", ctx, effect=True, key="default", child=c, wk=wk, id=ident)
                return t + 0.4, 200, "ok"
            return t, st, pl

    def request(self, log: Log, t0: float, sampled: bool, again: tuple | None = None) -> None:
        r = self.rng
        gw = self.gw
        ctx = {"trace": hexid(r, self.trace_len) if sampled else None}
        if sampled:
            ctx["span"] = ctx["trace"][-16:]
        ctx["thread"] = f"reactor-http-epoll-{r.randint(1, 4)}"
        route_edges = [e for e in gw.edges if e.child is not self.auth]
        e = r.choice(route_edges) if again is None else again[0]
        front = e.child
        ep = r.choice(front.endpoints) if again is None else again[1]
        ident = r.randint(1000, 999999)
        path = self.path_of(ep, ident)
        rid = hexid(r, 8) + "-" + str(r.randint(1, 9999))
        t = t0 + r.uniform(0.2, 1.0)
        if self.gw_route_log:
            self.emit(log, gw, t, "info", "gw_route", ctx, method=ep[0], path=path, front=front.name)
        # token check at the auth service
        ae = gw.edges[0]
        t_back, st, pl = self.call_simple(log, gw, ae, t, ctx)
        status = 200
        if st >= 400:
            status = 401 if st < 500 else st
        else:
            t = t_back
            t_send = t + 0.2
            cep = ep
            t_done, st2, pl2 = self.span(log, front, t_send + r.uniform(0.3, 1.5), dict(ctx), cep, path, ident)
            t_b = t_done + r.uniform(0.3, 1.5)
            if t_b - t_send > e.timeout:
                t = t_send + e.timeout
                status = 504
                self.emit(log, gw, t + 1, "error", "gw_timeout", ctx, effect=True, key="TimeoutException", rid=rid, method=ep[0], path=path, to=e.timeout)
            else:
                t = t_b
                status = st2
                if pl2 == "wrong" and again is None and r.random() < 0.7:
                    # the browser app gets a body it cannot use and asks again (the gateway reads no bodies)
                    self.request(log, t + r.uniform(300, 2500), r.random() < 0.5, (e, ep))
            if status >= 500 and t0 >= self.t_fault:
                self.effects.setdefault(gw.name, []).append("5xx")
        t += r.uniform(0.2, 1.0)
        self.emit(log, gw, t, "info", "gw_access", {"thread": ctx["thread"]}, ip=f"{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(2, 254)}",
                  at=t0, method=ep[0], path=path, status=status, size=r.randint(60, 6000) if status < 400 else 0, dur=t - t0)

    def call_simple(self, log, s, e, t, ctx):
        """The gateway's token check at the auth service (no code-path logging at the gateway)."""
        r = self.rng
        c = e.child
        ep = ("POST", "/oauth/check_token") if c.lang == "java" else ("POST", "/v1/token/verify")
        t_send = t + 0.1
        t_arr = t_send + r.uniform(0.3, 1.2)
        sctx = dict(ctx)
        t_done, st, pl = self.span(log, c, t_arr, sctx, ep, token=r.random() < self.token_log)
        t_back = t_done + r.uniform(0.3, 1.2)
        if c is self.root and self.fault == "delay" and t_arr >= self.t_fault:
            t_back += self.delay_ms * r.uniform(0.8, 1.25)
        if t_back - t_send > e.timeout:
            self.emit(log, s, t_send + e.timeout + 1, "error", "gw_timeout", ctx, effect=True, key="TimeoutException", rid=hexid(r, 8),
                      method="POST", path=ep[1], to=e.timeout)
            return t_send + e.timeout, 504, "error"
        if st >= 500:
            return t_back, st, "error"
        if pl == "wrong":
            return t_back, 401, "error"
        return t_back, 200, "ok"

    def noise(self, log: Log, start: float, end: float) -> None:
        r = self.rng
        for s in self.services:
            for kind, period in s.noise:
                t = start + r.uniform(0, period)
                while t < end:
                    slow = self.cpu_k if (s is self.root and self.fault == "cpu" and t >= self.t_fault) else 1.0
                    th = "scheduling-1" if s.lang == "java" else None
                    if kind == "refresh":
                        self.emit(log, s, t, "info", "refresh", {"thread": th}, n=r.randint(200, 5000),
                                  dur=r.uniform(20, 90) * slow, what=r.choice([self.hub.noun, s.noun, "tariff", "config"]))
                    elif kind == "eureka":
                        self.emit(log, s, t, "info", "eureka", {"thread": "DiscoveryClient-CacheRefreshExecutor-0"})
                    elif kind == "dupkey":
                        th = f"http-nio-{s.port}-exec-{r.randint(1, 200)}"
                        self.emit(log, s, t, "warning", "dupkey1", {"thread": th})
                        self.emit(log, s, t + 0.2, "error", "dupkey2", {"thread": th}, ref=f"EXT-{r.randint(100000, 999999)}")
                    elif kind == "warnish":
                        self.emit(log, s, t, "warning", "warnish", {}, d=r.randint(500, 2500))
                    t += period * r.uniform(0.7, 1.3)
            if s is self.root and self.fault == "cpu" and s.hikari:
                t = self.t_fault + r.uniform(20000, 60000)
                while t < end:
                    d = r.uniform(45, 130)
                    self.emit(log, s, t, "warning", "hikari", {"thread": "HikariPool-1 housekeeper"},
                              delta=f"{int(d // 60)}m{int(d % 60)}s{r.randint(0, 999)}ms")
                    t += r.uniform(40000, 150000)


def hash_pick(s: str, n: int) -> int:
    """A stable small choice from a name (not Python's salted hash)."""
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % 1000003
    return h % n


# ---------------------------------------------------------------------- one case
def make_case(n: int, used: dict) -> tuple[str, dict, list, dict, dict]:
    rng = random.Random(7000 + n)
    size = rng.randint(12, 40)
    mesh = Mesh(rng, size)
    fault = _pick(rng, used)
    candidates = [s for s in mesh.services if not s.gateway]
    root = rng.choice(candidates)
    with_edges = rng.random() < 0.5
    history_s = rng.randint(60, 180)
    window_s = rng.randint(300, 480)
    trigger_s = rng.randint(60, 120)
    from datetime import datetime, timedelta, timezone
    t_fault_dt = datetime(2026, 2, 2, tzinfo=timezone.utc) + timedelta(days=n, hours=rng.randrange(0, 24), minutes=rng.randrange(60),
                                                                     seconds=rng.randrange(60))
    t_fault = ms_of(t_fault_dt)
    start, end = t_fault - history_s * 1000, t_fault + window_s * 1000
    mesh.gw_route_log = rng.random() < 0.6
    mesh.token_log = rng.uniform(0.0, 0.6)
    mesh.set_fault(fault, root, t_fault)
    sample_p = rng.uniform(0.2, 0.6)
    target = rng.randint(3500, 7500)
    # pilot: lines per request on a copy of the RNG (the pilot's lines are thrown away)
    state = rng.getstate()
    pilot = Log()
    saved_tf = mesh.t_fault
    mesh.t_fault = float("inf")
    for i in range(60):
        mesh.request(pilot, start + i * 1000.0, True)
    mesh.t_fault = saved_tf
    for s in mesh.services:
        for e in s.edges:
            e.hist.clear()
            e.open_until = -1.0
    rng.setstate(state)
    mesh.effects, mesh.root_levels = {}, []
    per_req = max(1.0, len(pilot.rows) / 60)
    rate = min(3.0, max(0.12, target / per_req / (history_s + window_s)))
    log = Log()
    t = start + rng.expovariate(rate) * 1000
    while t < end - 3000:
        mesh.request(log, t, rng.random() < sample_p)
        t += rng.expovariate(rate) * 1000
    mesh.noise(log, start, end)
    recs = [x for x in log.sorted() if x["timestamp"] <= iso_z(dt(end))[:-1] + ".999Z"]
    # inventory
    inv_hosts = {}
    for s in mesh.services:
        inv_hosts.setdefault(s.host, {"role": "pod" if mesh.host_mode == "pod" else "k8s-node"})
    inv_services = {}
    for s in mesh.services:
        d = {"type": "gateway" if s.gateway else "service", "hosts": [s.host], "ports": [s.port]}
        if with_edges and s.edges:
            d["depends_on"] = [e.child.name for e in s.edges]
        inv_services[s.name] = d
    inventory = {"hosts": inv_hosts, "services": inv_services}
    root_err = any(lv == "error" for lv in mesh.root_levels)
    impacted = sorted(x for x in mesh.effects if x != root.name)
    sub = fault
    if fault == "exception":
        sub = "exception-logged" if mesh.exc_mode == "logs" else "exception-silent"
    score = {"exception-logged": 0, "exception-silent": 1, "cpu": 1, "delay": 1, "wrong-return": 2}[sub]
    score += 0 if with_edges else 1
    score += 1 if not impacted else 0
    difficulty = "easy" if score == 0 else "medium" if score <= 2 else "hard"
    tags = [difficulty, "mesh", fault, "root-logs-error" if root_err else "root-logs-no-error", "short-history"]
    if not with_edges:
        tags.append("no-edges")
    tags.append("traces")
    titles = ["Users report slow pages and intermittent problems", "Some requests misbehave since a few minutes",
              "Support tickets about the public API", "On-call paged: user-facing complaints",
              "Several screens misbehaving", "A partner integration reports problems",
              "Product team asks what changed in the last minutes", "Complaints from users on the mobile app"]
    title = rng.choice(titles)
    evidence = []
    if root_err and fault == "exception":
        evidence = [mesh.exc[0].split(".")[-1] if mesh.exc[0] not in ("panic", "error") else mesh.exc[1].split(":")[0]]
    case = {
        "title": title,
        "split": "test",
        "tags": tags,
        "window": {"start": iso_z(t_fault_dt), "end": iso_z(dt(end))},
        "expect": {"incident": True, "root_cause": {"service": root.name}},
        "trigger": {"at": iso_z(dt(t_fault + trigger_s * 1000))},
    }
    if impacted:
        case["expect"]["impacted"] = impacted
    if evidence:
        case["expect"]["evidence"] = evidence
    meta = {"family": "mesh", "fault": sub, "root": root.name, "services": size, "lines": len(recs),
            "sampled": round(sample_p, 2), "history_s": history_s, "impacted": impacted, "root_error": root_err}
    return case, recs, inventory, meta


def _pick(rng, used):
    from evals.outsider.common import pick_balanced
    return pick_balanced(rng, FAULTS, used)
