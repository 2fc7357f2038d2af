"""The golden scenarios: what breaks (or, for controls, what is merely busy or noisy), as
log lines in real formats on top of the fleet's background. Titles are what an operator
would see first, never the answer."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from evals.casegen.fleet import Fleet


@dataclass
class Scenario:
    title: str
    tags: list[str]
    build: Callable[[Fleet], None]
    expect: dict = field(default_factory=dict)
    load: float = 1.0
    trigger: dict | None = None          # {"after": minutes after the fault, "service": optional}
    inventory: str | None = None         # a case-specific inventory.yaml (else evals/inventory.yaml)
    history: int = 90                    # minutes of history before the window
    background: bool = True              # the eval fleet's background traffic


def burst(f: Fleet, start: float, end: float, rate: float, host: str, service: str, level: str, make) -> None:
    """`rate` lines a minute from `start` to `end` (minutes after the fault), message from make(i)."""
    i, minute = 0, start
    while minute < end:
        for _ in range(max(1, round(rate))):
            f.add(minute + f.rng.random(), host, service, level, make(i))
            i += 1
        minute += 1


def disk_full_db(f: Fleet) -> None:
    burst(f, 0, 25, 6, "mariadb-vm", "mariadb.service", "error", lambda i:
          f"{f.at(i // 6).strftime('%Y-%m-%d %H:%M:%S')} 0 [ERROR] InnoDB: Write to file ./ibdata1 failed at offset "
          f"{16384 * i}, {16384} bytes should have been written, only 0 were written. Operating system error number "
          "28. No space left on device")
    burst(f, 0.5, 25, 1, "mariadb-vm", "kernel", "warning", lambda i:
          "EXT4-fs warning (device vdb1): ext4_dx_add_entry:2512: Directory index full, reach max htree level :2")
    burst(f, 2, 25, 15, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.ingest: batch {i} failed: (1030, 'Got error 28 \"No space left on device\" from storage "
          "engine InnoDB')")
    burst(f, 3, 25, 10, "dev-services", "nginx.service", "error", lambda i:
          f'{i} upstream prematurely closed connection while reading response header from upstream, client: '
          f'10.0.0.{i % 250}, server: devmesh, request: "POST /ingest/logs HTTP/1.1", upstream: '
          '"http://127.0.0.1:8000/ingest/logs"')
    burst(f, 4, 25, 3, "monitoring", "grafana-server.service", "error", lambda i:
          f'logger=sqlstore t=2026 level=error msg="Failed to update dashboard" error="Error 1030 (HY000): Got error '
          f'28 from storage engine" dashboard={i}')


def oom_restart_loop(f: Fleet) -> None:
    for k in range(4):
        t = k * 5
        f.add(t, "gpu-node-1", "kernel", "critical",
              f"Out of memory: Killed process {4242 + k} (ollama) total-vm:{31000000 + k}kB, anon-rss:{29000000 + k}kB, "
              "file-rss:0kB, shmem-rss:0kB, UID:997 pgtables:58000kB oom_score_adj:0")
        f.add(t + 0.01, "gpu-node-1", "kernel", "warning",
              "ollama invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0")
        f.add(t + 0.05, "gpu-node-1", "init.scope", "warning",
              "ollama.service: Main process exited, code=killed, status=9/KILL")
        f.add(t + 0.06, "gpu-node-1", "init.scope", "warning", "ollama.service: Failed with result 'oom-kill'.")
        f.add(t + 0.2, "gpu-node-1", "init.scope", "info",
              f"ollama.service: Scheduled restart job, restart counter is at {k + 1}.")
        f.add(t + 0.25, "gpu-node-1", "init.scope", "info", "Started ollama.service - Ollama Service.")
    burst(f, 0.3, 25, 8, "llm-gw", "litellm.service", "error", lambda i:
          f"litellm.exceptions.APIConnectionError: OllamaException - [Errno 111] Connection refused. Received Model "
          f"Group=llama3 Available Model Group Fallbacks=None request_id={i}")


def dns_failure(f: Fleet) -> None:
    burst(f, 0, 25, 4, "dev-services", "systemd-resolved.service", "warning", lambda i:
          "Using degraded feature set UDP instead of UDP+EDNS0 for DNS server 10.0.0.1.")
    burst(f, 0.2, 25, 3, "dev-services", "systemd-resolved.service", "error", lambda i:
          f"Transaction {i * 7 % 65535} for <llm-gw.lan IN A> on scope dns on eth0/* now complete with "
          "<failure> from network (unsigned).")
    burst(f, 1, 25, 12, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.llm: call {i} failed: httpx.ConnectError: [Errno -3] Temporary failure in name resolution")


def expired_certificate(f: Fleet) -> None:
    f.add(-30, "llm-gw", "certbot.service", "error",
          "Failed to renew certificate llm-gw.lan with error: Could not bind TCP port 80 because it is already in use")
    burst(f, 0, 25, 12, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.llm: call {i} to https://llm-gw:4000/v1/chat/completions failed: [SSL: "
          "CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)")
    burst(f, 0, 25, 4, "llm-gw", "litellm.service", "warning", lambda i:
          f"WARNING:  Invalid HTTP request received. tls handshake from 10.0.0.20:{40000 + i} aborted")


def partition(f: Fleet) -> None:
    f.silence("ollama.service@gpu-node-2", 0)
    burst(f, 0, 25, 10, "llm-gw", "litellm.service", "error", lambda i:
          f"litellm.exceptions.Timeout: OllamaException - timed out connecting to http://10.0.0.42:11434/api/chat "
          f"after 30.0s request_id={i}")
    burst(f, 0.5, 25, 2, "gpu-node-2", "kernel", "warning", lambda i:
          "igb 0000:03:00.0 eno1: Reset adapter unexpectedly")
    burst(f, 1, 25, 4, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.llm: call {i} failed: upstream llm-gateway returned 504 Gateway Timeout")


def bad_deploy(f: Fleet) -> None:
    f.add(-0.5, "dev-services", "init.scope", "info", "Stopping devmesh-api.service - DevMesh API...")
    f.add(-0.45, "dev-services", "init.scope", "info", "devmesh-api.service: Deactivated successfully.")
    f.add(-0.4, "dev-services", "init.scope", "info", "Started devmesh-api.service - DevMesh API.")
    f.add(-0.3, "dev-services", "devmesh-api.service", "info", "INFO devmesh: starting version 2026.1.20+g3f9c2d1")
    burst(f, 0, 25, 14, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.api: GET /api/orders/{i} failed: TypeError: 'NoneType' object is not subscriptable "
          "(orders.py:88 in render_order)")
    burst(f, 1, 25, 8, "dev-services", "nginx.service", "error", lambda i:
          f'{i} upstream sent invalid response while reading response header from upstream, client: 10.0.0.{i % 250},'
          f' server: devmesh, request: "GET /api/orders/{i} HTTP/1.1", upstream: "http://127.0.0.1:8000"')


def gateway_hangs(f: Fleet) -> None:
    f.silence("litellm.service@llm-gw", 0)
    burst(f, 1, 25, 10, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.llm: call {i} to http://llm-gw:4000/v1/chat/completions failed: httpx.ReadTimeout: "
          "timed out after 60.0s")


def slow_queries(f: Fleet) -> None:
    burst(f, -10, 25, 3, "mariadb-vm", "mariadb.service", "warning", lambda i:
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} {i} [Warning] Aborted connection {i} to db: 'app' (Lock wait "
          f"timeout exceeded; query ran {20 + i % 40}s)")
    burst(f, 0, 25, 8, "mariadb-vm", "mariadb.service", "error", lambda i:
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} {i} [ERROR] Got error 1205 'Lock wait timeout exceeded; try "
          "restarting transaction' on query. Default database: 'app'")
    burst(f, 2, 25, 12, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.db: query {i} failed after 50.0s: (1205, 'Lock wait timeout exceeded; try restarting "
          "transaction')")


def disk_errors(f: Fleet) -> None:
    burst(f, 0, 25, 6, "mariadb-vm", "kernel", "error", lambda i:
          f"blk_update_request: I/O error, dev vdb, sector {123456 + 8 * i} op 0x1:(WRITE) flags 0x800 phys_seg 1 prio "
          "class 0")
    f.add(1, "mariadb-vm", "kernel", "critical", "EXT4-fs error (device vdb1): ext4_journal_check_start:83: comm "
          "mariadbd: Detected aborted journal")
    f.add(1.1, "mariadb-vm", "kernel", "critical", "EXT4-fs (vdb1): Remounting filesystem read-only")
    burst(f, 2, 25, 6, "mariadb-vm", "mariadb.service", "error", lambda i:
          f"{f.at(2).strftime('%Y-%m-%d %H:%M:%S')} 0 [ERROR] InnoDB: Operating system error number 30 in a file "
          "operation. Error number 30 means 'Read-only file system'")
    burst(f, 3, 25, 10, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.ingest: batch {i} failed: (1036, \"Table 'log_events' is read only\")")


def gpu_falls_over(f: Fleet) -> None:
    f.add(0, "gpu-node-2", "kernel", "critical", "NVRM: Xid (PCI:0000:41:00): 79, pid=1812, GPU has fallen off the bus.")
    burst(f, 0.1, 25, 3, "gpu-node-2", "nvidia-persistenced.service", "error", lambda i:
          "Failed to query NVIDIA devices. Please ensure that the NVIDIA device files (/dev/nvidia*) exist, and that "
          "user 143 has read and write permissions for those files.")
    burst(f, 0.5, 25, 6, "gpu-node-2", "ollama.service", "error", lambda i:
          f'time={f.at(0).isoformat()}Z level=ERROR source=server.go:{400 + i % 7} msg="llama runner terminated" '
          'error="CUDA error: unknown error\\n  current device: 0, in function ggml_cuda_op_mul_mat"')
    burst(f, 1, 25, 5, "llm-gw", "litellm.service", "error", lambda i:
          f"litellm.exceptions.APIError: OllamaException - 500 Internal Server Error from http://10.0.0.42:11434 "
          f"request_id={i}")


def two_faults(f: Fleet) -> None:
    disk_full_db(f)
    burst(f, 4, 25, 4, "monitoring", "prometheus.service", "error", lambda i:
          f'ts={f.at(4).isoformat()}Z caller=scrape.go:1400 level=error component="scrape manager" '
          f'scrape_pool=node target=http://10.0.0.{41 + i % 2}:9100/metrics msg="Scrape failed" err="context deadline '
          'exceeded"')


def red_herring_and_db(f: Fleet) -> None:
    burst(f, -5, 25, 40, "dev-services", "ssh.service", "info", lambda i:
          f"Failed password for invalid user {['admin', 'oracle', 'test', 'ubuntu'][i % 4]} from 198.51.100.{i % 250} "
          f"port {30000 + i} ssh2")
    burst(f, -5, 25, 6, "monitoring", "grafana-server.service", "warning", lambda i:
          'logger=plugins.update.checker t=2026 level=warn msg="Failed to check for plugin updates" '
          'error="Get \\"https://grafana.com/api/plugins/versioncheck\\": dial tcp: lookup grafana.com: no such host"')
    burst(f, 0, 25, 4, "mariadb-vm", "mariadb.service", "error", lambda i:
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} {i} [ERROR] Too many connections")
    burst(f, 1, 25, 12, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.db: connect failed: (1040, 'Too many connections') attempt {i}")


def redis_oom(f: Fleet) -> None:
    burst(f, 0, 25, 3, "dev-services", "falkordb.service", "warning", lambda i:
          f"{i}:M 20 Jan 2026 10:00:00.000 # WARNING: maxmemory reached, {i} keys evicted")
    burst(f, 0.5, 25, 12, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.graph: query {i} failed: redis.exceptions.OutOfMemoryError: command not allowed when used "
          "memory > 'maxmemory'.")


def crash_loop(f: Fleet) -> None:
    for k in range(8):
        t = k * 3
        f.add(t, "dev-services", "devmesh-api.service", "error", "Traceback (most recent call last):")
        f.add(t + 0.01, "dev-services", "devmesh-api.service", "critical",
              "ModuleNotFoundError: No module named 'devmesh.settings_v2'")
        f.add(t + 0.02, "dev-services", "init.scope", "warning",
              "devmesh-api.service: Main process exited, code=exited, status=1/FAILURE")
        f.add(t + 0.03, "dev-services", "init.scope", "warning", "devmesh-api.service: Failed with result 'exit-code'.")
        f.add(t + 1, "dev-services", "init.scope", "info",
              f"devmesh-api.service: Scheduled restart job, restart counter is at {k + 1}.")
    f.silence("devmesh-api.service@dev-services", 0.05)
    burst(f, 0.5, 25, 10, "dev-services", "nginx.service", "error", lambda i:
          f'{i} connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.{i % 250}, '
          'server: devmesh, request: "GET /api/items HTTP/1.1", upstream: "http://127.0.0.1:8000/api/items"')


def prometheus_disk(f: Fleet) -> None:
    burst(f, 0, 25, 4, "monitoring", "prometheus.service", "error", lambda i:
          f'ts={f.at(0).isoformat()}Z caller=db.go:1021 level=error component=tsdb msg="compaction failed" '
          'err="compact head: write compaction: write /var/lib/prometheus/01HM: no space left on device"')
    burst(f, 1, 25, 8, "monitoring", "grafana-server.service", "error", lambda i:
          f'logger=tsdb.prometheus t=2026 level=error msg="Query error" error="Post \\"http://localhost:9090/api/v1/'
          f'query_range\\": server returned HTTP status 500 Internal Server Error" query_id={i}')


def model_misconfig(f: Fleet) -> None:
    f.add(-0.6, "llm-gw", "init.scope", "info", "Started litellm.service - LiteLLM proxy.")
    burst(f, 0, 25, 6, "llm-gw", "litellm.service", "error", lambda i:
          f"litellm.exceptions.BadRequestError: Invalid model name passed in model=llama3-70b. Call `/v1/models` to "
          f"view available models for your key. request_id={i}")
    burst(f, 1, 25, 10, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.llm: call {i} failed: upstream llm-gateway returned 400 Bad Request")


def cert_on_proxy(f: Fleet) -> None:
    """The proxy's own certificate expired: clients abort the handshake (server-side view)."""
    f.add(-40, "dev-services", "certbot.service", "error",
          "Failed to renew certificate devmesh.lan with error: urn:ietf:params:acme:error:dns :: DNS problem: SERVFAIL "
          "looking up CAA for devmesh.lan")
    burst(f, 0, 25, 10, "dev-services", "nginx.service", "error", lambda i:
          f"{i} SSL_do_handshake() failed (SSL: error:0A000416:SSL routines::sslv3 alert certificate unknown:SSL alert "
          f"number 46) while SSL handshaking, client: 10.0.0.{i % 250}, server: 0.0.0.0:443")


def connection_refused_db(f: Fleet) -> None:
    f.add(0, "mariadb-vm", "init.scope", "warning", "mariadb.service: Main process exited, code=killed, status=6/ABRT")
    f.add(0.01, "mariadb-vm", "mariadb.service", "critical",
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} 0 [ERROR] mariadbd got signal 6 ;")
    f.silence("mariadb.service@mariadb-vm", 0.05)
    burst(f, 0.5, 25, 12, "dev-services", "devmesh-api.service", "error", lambda i:
          f"ERROR devmesh.db: connect failed: (2003, \"Can't connect to MySQL server on '10.0.0.18:3306' (111 "
          f"Connection refused)\") attempt {i}")
    burst(f, 1, 25, 3, "monitoring", "grafana-server.service", "error", lambda i:
          'logger=sqlstore t=2026 level=error msg="Database error" error="dial tcp 10.0.0.18:3306: connect: connection '
          'refused"')


# ---------------------------------------------------------------------------- controls

def busy_but_healthy(f: Fleet) -> None:
    pass                                                  # the load multiplier does it


def noisy_cron(f: Fleet) -> None:
    burst(f, -60, 25, 6, "monitoring", "CRON", "info", lambda i:
          f"(backup) CMD (/usr/local/bin/sync-dashboards --quiet --batch {i})")
    burst(f, -60, 25, 2, "monitoring", "CRON", "warning", lambda i:
          f"(backup) MAIL (mailed {120 + i % 50} bytes of output but got status 0x004b from MTA)")


def planned_restart(f: Fleet) -> None:
    f.add(0, "dev-services", "init.scope", "info", "Stopping nginx.service - A high performance web server...")
    f.add(0.02, "dev-services", "nginx.service", "notice", "signal process started")
    f.add(0.1, "dev-services", "init.scope", "info", "nginx.service: Deactivated successfully.")
    f.add(0.11, "dev-services", "init.scope", "info", "Stopped nginx.service - A high performance web server.")
    f.add(0.2, "dev-services", "init.scope", "info", "Starting nginx.service - A high performance web server...")
    f.add(0.3, "dev-services", "init.scope", "info", "Started nginx.service - A high performance web server.")


def brute_force(f: Fleet) -> None:
    burst(f, 0, 25, 30, "llm-gw", "ssh.service", "info", lambda i:
          f"Failed password for root from 203.0.113.{i % 250} port {20000 + i} ssh2")
    burst(f, 0, 25, 10, "llm-gw", "ssh.service", "info", lambda i:
          f"Connection closed by authenticating user root 203.0.113.{i % 250} port {20000 + i} [preauth]")


def clean_deploy(f: Fleet) -> None:
    f.add(0, "dev-services", "init.scope", "info", "Stopping devmesh-api.service - DevMesh API...")
    f.add(0.05, "dev-services", "init.scope", "info", "Started devmesh-api.service - DevMesh API.")
    f.add(0.1, "dev-services", "devmesh-api.service", "info", "INFO devmesh: starting version 2026.1.20+g8a1b2c3")
    f.add(0.2, "dev-services", "devmesh-api.service", "info", "INFO devmesh: migrations up to date")


def nightly_backup(f: Fleet) -> None:
    burst(f, 0, 20, 5, "mariadb-vm", "mariadb-backup.service", "info", lambda i:
          f"[00] {f.at(0).strftime('%Y-%m-%d %H:%M:%S')} Copying ./app/t{i % 40}.ibd to /backup/app/t{i % 40}.ibd")
    burst(f, 0, 20, 1, "mariadb-vm", "mariadb.service", "warning", lambda i:
          f"{f.at(0).strftime('%Y-%m-%d %H:%M:%S')} {i} [Warning] Aborted connection {i} to db: 'app' (Got an error "
          "reading communication packets)")


SCENARIOS: list[Scenario] = [
    Scenario("Ingest requests failing, dashboards erroring", ["medium", "database", "cascade"], disk_full_db,
             {"incident": True, "detectors": ["catastrophic", "error_spike"],
              "root_cause": {"service": "mariadb", "host": "mariadb-vm"}, "impacted": ["devmesh-api", "nginx", "grafana"],
              "evidence": ["No space left on device"], "detect_within_s": 300}),
    Scenario("Chat completions failing intermittently", ["medium", "oom", "gpu"], oom_restart_loop,
             {"incident": True, "root_cause": {"service": "ollama-gpu1", "host": "gpu-node-1"},
              "impacted": ["llm-gateway"], "evidence": ["Out of memory"], "detect_within_s": 300}),
    Scenario("API cannot reach the model service", ["hard", "dns"], dns_failure,
             {"incident": True, "root_cause": {"service": "systemd-resolved", "host": "dev-services"},
              "evidence": ["name resolution"], "detect_within_s": 300}),
    Scenario("Model calls from the API rejected", ["hard", "tls"], expired_certificate,
             {"incident": True, "root_cause": {"service": "llm-gateway", "host": "llm-gw"},
              "evidence": ["certificate has expired"], "detect_within_s": 300}),
    Scenario("Gateway timeouts to one backend", ["hard", "network"], partition,
             {"incident": True, "root_cause": {"service": "ollama-gpu2", "host": "gpu-node-2"},
              "detect_within_s": 300}),
    Scenario("Order pages failing after lunch", ["easy", "deploy"], bad_deploy,
             {"incident": True, "detectors": ["new_error_template", "error_spike"],
              "root_cause": {"service": "devmesh-api", "host": "dev-services"}, "impacted": ["nginx"],
              "evidence": ["NoneType"], "detect_within_s": 180}),
    Scenario("Chat requests hanging", ["medium", "silence"], gateway_hangs,
             {"incident": True, "root_cause": {"service": "llm-gateway", "host": "llm-gw"},
              "impacted": ["devmesh-api"], "detect_within_s": 600}),
    Scenario("Writes getting slower, then failing", ["medium", "database"], slow_queries,
             {"incident": True, "root_cause": {"service": "mariadb", "host": "mariadb-vm"},
              "impacted": ["devmesh-api"], "evidence": ["Lock wait timeout"], "detect_within_s": 300}),
    Scenario("Ingest errors on a read-only table", ["hard", "hardware"], disk_errors,
             {"incident": True, "root_cause": {"service": "kernel", "host": "mariadb-vm"},
              "evidence": ["I/O error"], "detect_within_s": 300}),
    Scenario("Half the model requests return 500", ["medium", "gpu", "hardware"], gpu_falls_over,
             {"incident": True, "root_cause": {"service": "kernel", "host": "gpu-node-2"},
              "impacted": ["nvidia-persistenced", "ollama-gpu2", "llm-gateway"], "detect_within_s": 300}),
    Scenario("Several alerts in one morning", ["hard", "multi"], two_faults,
             {"incident": True, "root_cause": {"service": "mariadb", "host": "mariadb-vm"},
              "evidence": ["No space left on device"], "detect_within_s": 300}),
    Scenario("Login noise and API errors", ["hard", "red-herring", "database"], red_herring_and_db,
             {"incident": True, "root_cause": {"service": "mariadb", "host": "mariadb-vm"},
              "impacted": ["devmesh-api"], "evidence": ["Too many connections"], "detect_within_s": 300}),
    Scenario("Graph queries failing in the API", ["medium", "database"], redis_oom,
             {"incident": True, "root_cause": {"service": "falkordb", "host": "dev-services"},
              "impacted": ["devmesh-api"], "evidence": ["maxmemory"], "detect_within_s": 300}),
    Scenario("Site returns 502 after a change", ["easy", "deploy", "restart-loop"], crash_loop,
             {"incident": True, "root_cause": {"service": "devmesh-api", "host": "dev-services"},
              "impacted": ["nginx"], "evidence": ["ModuleNotFoundError"], "detect_within_s": 180}),
    Scenario("Dashboards show query errors", ["medium", "monitoring"], prometheus_disk,
             {"incident": True, "root_cause": {"service": "prometheus", "host": "monitoring"},
              "impacted": ["grafana"], "evidence": ["no space left on device"], "detect_within_s": 300}),
    Scenario("Model calls failing with 400", ["easy", "config"], model_misconfig,
             {"incident": True, "root_cause": {"service": "llm-gateway", "host": "llm-gw"},
              "impacted": ["devmesh-api"], "evidence": ["Invalid model name"], "detect_within_s": 300}),
    Scenario("Proxy handshake errors", ["easy", "tls"], cert_on_proxy,
             {"incident": True, "root_cause": {"service": "nginx", "host": "dev-services"},
              "evidence": ["certificate"], "detect_within_s": 300}),
    Scenario("API and dashboards lose the database", ["medium", "database", "crash"], connection_refused_db,
             {"incident": True, "root_cause": {"service": "mariadb", "host": "mariadb-vm"},
              "impacted": ["devmesh-api", "grafana"], "detect_within_s": 300}),
    Scenario("Traffic triples during a launch", ["easy", "load"], busy_but_healthy, {"incident": False}, load=3.0),
    Scenario("Chatty scheduled jobs", ["easy", "cron"], noisy_cron, {"incident": False}),
    Scenario("Maintenance on the web tier", ["easy", "restart"], planned_restart, {"incident": False}),
    Scenario("Login attempts from the internet", ["easy", "security"], brute_force, {"incident": False}),
    Scenario("A routine release", ["easy", "deploy"], clean_deploy, {"incident": False}),
    Scenario("Nightly copy job", ["easy", "backup"], nightly_backup, {"incident": False}),
]
