"""The fault lab's pure parts: real log lines of each service -> ingest records, and case files.

No apt packages, no root, no processes: lines below were written by the lab's real software.
"""
from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import yaml

from evals.lab import casefile, parse
from evals.lab.record import plan
from evals.lab.topology import FAULTS, SERVICES, inventory_yaml

UTC = timezone.utc
TRACE = "d0e9736e8dc198e2f6f7d38b3ecc4c7f"


def one(text, kind, captured=False, host="h", service="s.service"):
    recs = parse.records(text, kind, host, service, captured=captured)
    assert len(recs) == 1, recs
    rec = recs[0]
    assert set(rec) >= {"timestamp", "host", "service", "level", "message"}
    return rec


def test_nginx_access_line_keeps_the_line_and_moves_the_trace_id():
    line = ('127.0.0.1 - - [02/Dec/2026:01:47:23 +0000] "GET /api/products/32 HTTP/1.1" 200 80 "-" "curl/7.88.1" '
            f'rt=0.043 uct=0.002 urt=0.043 trace_id={TRACE}')
    rec = one(line, "nginx_access")
    assert rec["timestamp"] == "2026-12-02T01:47:23.000000Z"
    assert rec["level"] == "info" and rec["trace_id"] == TRACE
    assert rec["message"].endswith("urt=0.043") and "trace_id" not in rec["message"]


def test_nginx_error_line():
    line = ('2026/12/02 01:50:00 [error] 7073#7073: *12 connect() failed (111: Connection refused) while connecting '
            'to upstream, client: 127.0.0.1, server: shop.lab, request: "GET /api/products/3 HTTP/1.1", '
            'upstream: "http://127.0.1.2:7181/api/products/3", host: "127.0.1.1:7180"')
    rec = one(line, "nginx_error")
    assert rec["level"] == "error" and rec["timestamp"] == "2026-12-02T01:50:00.000000Z"
    assert rec["message"].startswith("*12 connect() failed (111: Connection refused)")
    assert one("2026/12/02 01:50:00 [crit] 7#7: *1 pwrite() failed (28: No space left on device)",
               "nginx_error")["level"] == "critical"


def test_redis_lines_map_its_level_marks():
    text = ("4207:M 02 Dec 2026 01:47:21.931 * Ready to accept connections\n"
            "4207:M 02 Dec 2026 01:47:21.930 # Server initialized\n"
            "4231:C 02 Dec 2026 01:48:00.012 * DB saved on disk\n"
            "4207:signal-handler (1796176064) Received SIGTERM scheduling shutdown...\n")
    recs = parse.records(text, "redis", "cache-1", "redis-server.service")
    assert [r["level"] for r in recs] == ["notice", "warning", "notice", "warning"]
    assert recs[3]["message"] == "Received SIGTERM scheduling shutdown..."
    assert recs[3]["timestamp"] == "2026-12-02T01:47:44.000000Z"
    assert recs[0]["message"] == "Ready to accept connections"
    assert recs[0]["timestamp"] == "2026-12-02T01:47:21.931000Z"


def test_mariadb_error_log_folds_continuation_lines():
    text = ("2026-12-02  1:47:21 0 [Note] /usr/sbin/mariadbd: ready for connections.\n"
            "Version: '11.8.9-MariaDB-0+deb13u1 from Debian-log'  socket: '/tmp/x.sock'  port: 7136\n"
            "2026-12-02  1:48:02 5 [Warning] Aborted connection 5 to db: 'shop' user: 'shop' host: '127.0.0.1' "
            "(Got an error reading communication packets)\n"
            "2026-12-02 11:48:03 0 [ERROR] mariadbd: Disk is full writing './mysql-bin.000001' (Errcode: 28)\n")
    recs = parse.records(text, "mariadb_error", "db-1", "mariadb.service")
    assert [r["level"] for r in recs] == ["info", "warning", "error"]
    assert recs[0]["message"].endswith("port: 7136") and "\nVersion:" in recs[0]["message"]
    assert recs[0]["timestamp"] == "2026-12-02T01:47:21.000000Z"
    assert recs[2]["timestamp"] == "2026-12-02T11:48:03.000000Z"


def test_mariadb_slow_log_one_record_per_entry():
    text = ("/usr/sbin/mariadbd, Version: 11.8.9-MariaDB-0+deb13u1-log (Debian). started with:\n"
            "Tcp port: 7136  Unix socket: /tmp/x.sock\nTime\t\t    Id Command\tArgument\n"
            "# Time: 261202  1:50:01\n# User@Host: shop[shop] @  [127.0.0.1]\n"
            "# Thread_id: 9  Schema: shop  QC_hit: No\n"
            "# Query_time: 1.502  Lock_time: 0.000  Rows_sent: 1  Rows_examined: 1\n"
            "SET timestamp=1796176201;\nSELECT id, name, price FROM products WHERE id = 3;\n")
    recs = parse.mariadb_slow(text, "db-1", "mariadb.service")
    assert len(recs) == 1
    assert recs[0]["timestamp"] == parse.iso(datetime.fromtimestamp(1796176201, UTC))
    assert recs[0]["message"].startswith("# User@Host: shop[shop]") and "Query_time: 1.502" in recs[0]["message"]
    assert "SET timestamp" not in recs[0]["message"]


def test_python_logging_captured_line_with_trace_and_traceback():
    text = (f"1796176043099487\t2026-12-02 01:47:23,099 ERROR shop_web.http [trace_id={TRACE} "
            "span_id=807bb45bd780a56e] unhandled error on GET /api/products/3\n"
            "1796176043099500\tTraceback (most recent call last):\n"
            "1796176043099510\tKeyError: 'USD'\n"
            "1796176042663895\t2026-12-02 01:47:22,663 INFO shop_web [trace_id=- span_id=-] shop-web 1.4.2 listening\n")
    recs = parse.records(text, "python_logging", "web-1", "shop-web.service", captured=True)
    assert len(recs) == 2
    err = recs[0]
    assert err["level"] == "error" and err["trace_id"] == TRACE and err["span_id"] == "807bb45bd780a56e"
    assert err["message"] == "unhandled error on GET /api/products/3\nTraceback (most recent call last):\nKeyError: 'USD'"
    assert err["timestamp"] == "2026-12-02T01:47:23.099000Z"       # the line's own time, not the capture's
    assert "trace_id" not in recs[1] and recs[1]["meta"] == {"logger": "shop_web"}


def test_pino_line_numeric_levels_and_meta():
    line = ('1796176044209310\t{"level":50,"time":1796176044209,"pid":4214,"hostname":"stock-1","name":"stock-api",'
            f'"trace_id":"{TRACE}","span_id":"060f5ff1dfa3b34f","status":503,"duration_ms":1002,'
            '"msg":"request failed POST /reserve 503 in 1002 ms"}')
    rec = one(line, "pino", captured=True)
    assert rec["level"] == "error" and rec["trace_id"] == TRACE
    assert rec["message"] == "request failed POST /reserve 503 in 1002 ms"
    assert rec["timestamp"] == "2026-12-02T01:47:24.209000Z"
    assert rec["meta"] == {"pid": 4214, "status": 503, "duration_ms": 1002}
    assert one('1796176044209310\t{"level":40,"time":1796176044209,"msg":"x"}', "pino", captured=True)["level"] == \
        "warning"


def test_non_json_stdout_line_uses_the_capture_time():
    rec = one("1796176044000000\tnode:internal/process/esm_loader:40", "pino", captured=True)
    assert rec["level"] == "info" and rec["timestamp"] == "2026-12-02T01:47:24.000000Z"


def test_logfmt_line():
    line = (f'1796176043414014\ttime=2026-12-02T01:47:23.413Z level=warn msg="job slow: done in 1204 ms" '
            f'trace_id={TRACE} job=1')
    rec = one(line, "logfmt", captured=True)
    assert rec["level"] == "warning" and rec["trace_id"] == TRACE and rec["message"] == "job slow: done in 1204 ms"
    assert rec["meta"] == {"job": "1"} and rec["timestamp"] == "2026-12-02T01:47:23.413000Z"
    err = one('1\ttime=2026-12-02T01:47:23.413Z level=error msg="could not write receipt: [Errno 28] No space '
              'left on device" job=7', "logfmt", captured=True)
    assert err["level"] == "error" and err["message"].endswith("No space left on device")


def _rec(ts, service, level, message, host=None):
    svc = next(s for s in SERVICES.values() if s.unit == service)
    return {"timestamp": parse.iso(ts), "host": host or svc.host, "service": service, "level": level,
            "message": message}


T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
START, END = T0 + timedelta(seconds=120), T0 + timedelta(seconds=240)


def test_root_logs_tag_needs_a_new_error_template_from_the_target():
    history = [_rec(T0 + timedelta(seconds=5), "redis-server.service", "error", "Error in connection 12")]
    same = [_rec(START + timedelta(seconds=5), "redis-server.service", "error", "Error in connection 99")]
    assert casefile.root_logs_tag(history + same, "redis", START, END) == "root-logs-no-error"
    warn = [_rec(START + timedelta(seconds=5), "redis-server.service", "warning", "Write error: no space left")]
    assert casefile.root_logs_tag(history + warn, "redis", START, END) == "root-logs-no-error"
    other = [_rec(START + timedelta(seconds=5), "shop-web.service", "error", "database unavailable")]
    assert casefile.root_logs_tag(history + other, "redis", START, END) == "root-logs-no-error"
    late = [_rec(END + timedelta(seconds=5), "redis-server.service", "error", "brand new failure")]
    assert casefile.root_logs_tag(history + late, "redis", START, END) == "root-logs-no-error"
    new = [_rec(START + timedelta(seconds=5), "redis-server.service", "critical", "brand new failure")]
    assert casefile.root_logs_tag(history + new, "redis", START, END) == "root-logs-error"


def _access(ts, status, rt):
    return _rec(ts, "nginx.service", "info", f'127.0.0.1 - - [x] "GET /api/products/1 HTTP/1.1" {status} 80 "-" '
                                             f'"curl/7.88.1" rt={rt} uct=0.001 urt={rt}')


def test_title_is_the_edge_symptom():
    hist = [_access(T0 + timedelta(seconds=i), 200, 0.02) for i in range(120)]
    errors = [_access(START + timedelta(seconds=i), 502 if i % 3 else 200, 0.02) for i in range(120)]
    slow = [_access(START + timedelta(seconds=i), 200, 2.5) for i in range(120)]
    fine = [_access(START + timedelta(seconds=i), 200, 0.02) for i in range(120)]
    assert casefile.title(hist + errors, T0, START, END) == "Shop API returning errors"
    assert casefile.title(hist + slow, T0, START, END) == "Shop requests slow"
    assert casefile.title(hist + fine, T0, START, END) == "Customers report problems with the shop"
    assert casefile.title(hist + fine[:20], T0, START, END) == "Shop traffic dropped sharply"


def test_case_yaml_fault_and_control():
    doc = yaml.safe_load(casefile.case_yaml(title_text="Shop requests slow", fault="net_loss", target="redis",
                                            tag="root-logs-no-error", start=START, end=END,
                                            trigger_at=casefile.trigger_time(START, END, 75.4)))
    assert doc == {"title": "Shop requests slow", "tags": ["net_loss", "root-logs-no-error"], "split": "dev",
                   "window": {"start": "2026-12-02T01:02:00Z", "end": "2026-12-02T01:04:00Z"},
                   "trigger": {"at": "2026-12-02T01:03:15Z"},
                   "expect": {"incident": True, "root_cause": {"service": "redis", "host": "cache-1"}}}
    control = yaml.safe_load(casefile.case_yaml(title_text="x", fault=None, target=None, tag=None, start=START,
                                                end=END, trigger_at=None))
    assert control["tags"] == ["control"] and control["expect"] == {"incident": False} and "trigger" not in control


def test_written_case_loads(tmp_path):
    from evals.cases import load

    recs = [_access(T0 + timedelta(seconds=i), 200, 0.02) for i in range(3)]
    recs[0]["_ts"] = T0
    text = casefile.case_yaml(title_text="Shop requests slow", fault="sigstop", target="mariadb",
                              tag="root-logs-no-error", start=START, end=END,
                              trigger_at=casefile.trigger_time(START, END, 80))
    path = casefile.write(tmp_path, "lab-01", list(reversed(recs)), text, {"plan": {}})
    case = load(path)
    assert case.root_service == "mariadb" and case.root_host == "db-1" and case.trigger_at is not None
    lines = gzip.decompress((path / "logs.jsonl.gz").read_bytes()).decode().splitlines()
    assert len(lines) == 3 and "_ts" not in lines[0] and lines == sorted(lines)
    assert case.inventory == path / "inventory.yaml"


def test_inventory_is_valid_and_names_every_unit():
    from ingest.inventory import parse as parse_inventory

    inv = parse_inventory(inventory_yaml())
    assert set(inv.services) == set(SERVICES)


def test_plan_is_seeded_and_targets_fit_the_fault():
    a, b = plan(12, 3, seed=5), plan(12, 3, seed=5)
    assert a == b and len(a) == 15 and sum(p.fault is None for p in a) == 3
    assert [p.slug for p in a] == [f"lab-{i:02d}" for i in range(1, 16)]
    for p in a:
        if p.fault:
            assert p.target in FAULTS[p.fault]
            assert 60 <= p.trigger_offset_s <= 90 and p.trigger_offset_s < p.fault_s
    assert plan(12, 3, seed=6) != a
