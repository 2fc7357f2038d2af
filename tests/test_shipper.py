"""The journald shipper end to end: real journal files (systemd-journal-remote), a real
`devmesh serve` process, the real MariaDB. Nothing lost, nothing doubled."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from shipper.export import write_journal
from evals.live import REPO, LiveServer, wait_until

BOOT = "0f5a6b8c9d0e4f1a2b3c4d5e6f708192"


def entries(n: int, start_us: int = 1768903200_000000, **extra) -> list[dict]:
    units = ["nginx.service", "mariadb.service", "ollama.service"]
    return [{"__REALTIME_TIMESTAMP": start_us + i * 1000, "_HOSTNAME": "node-1",
             "_SYSTEMD_UNIT": units[i % 3], "SYSLOG_IDENTIFIER": units[i % 3].split(".")[0],
             "PRIORITY": 6 if i % 5 else 3, "MESSAGE": f"request {i} served in {i % 97}ms", "_PID": 100 + i % 7,
             "_COMM": units[i % 3].split(".")[0], **extra} for i in range(n)]


@pytest.fixture
def server(db_urls, tmp_path):
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    yield live
    live.stop()


def ship(url: str, *args, check=True, **popen) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "shipper", "--url", url, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=180, **popen)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def final_stats(stderr: str) -> dict:
    return [json.loads(line)["stats"] for line in stderr.splitlines() if line.startswith('{"stats"')][-1]


def count(db) -> tuple[int, int]:
    return tuple(db.fetchone("SELECT COUNT(*), COUNT(DISTINCT log_hash) FROM log_events"))


def test_ships_every_entry_once_with_fields_mapped(server, db, tmp_path):
    journal = write_journal(tmp_path / "j.journal", entries(120) + [{
        "__REALTIME_TIMESTAMP": 1768903300_000000, "_HOSTNAME": "node-2", "SYSLOG_IDENTIFIER": "kernel",
        "PRIORITY": 2, "MESSAGE": b"bad \xff byte\nsecond line", "MESSAGE_ID": "fc2e22bc6ee647b6b90729ab34a250b1"}],
        boot_id=BOOT)
    done = ship(server.url, "--file", journal, "--once", "--cursor", tmp_path / "cursor", "--batch-size", 25)
    assert final_stats(done.stderr)["accepted"] == 121
    assert count(db) == (121, 121)
    row = db.fetchone("SELECT ts, host, service, level, message, source, meta_json FROM log_events "
                      "WHERE service = 'kernel'")
    assert row[0].isoformat() == "2026-01-20T10:01:40"
    assert row[1:6] == ("node-2", "kernel", "critical", "bad \ufffd byte\nsecond line", "journald")
    meta = json.loads(row[6])
    assert meta["boot_id"] == BOOT and meta["message_id"] == "fc2e22bc6ee647b6b90729ab34a250b1"
    assert meta["cursor"] == (tmp_path / "cursor").read_text()           # the last entry acknowledged
    first = db.fetchone("SELECT host, service, level, JSON_VALUE(meta_json, '$.pid'), "
                        "JSON_VALUE(meta_json, '$.comm') FROM log_events WHERE message = 'request 0 served in 0ms'")
    assert first == ("node-1", "nginx.service", "error", "100", "nginx")
    again = ship(server.url, "--file", journal, "--once", "--cursor", tmp_path / "cursor")
    assert final_stats(again.stderr)["read"] == 0                       # resumes after the cursor


def test_server_killed_mid_way_every_entry_arrives_exactly_once(server, db, tmp_path):
    # the shipper is paused while the server dies, so it cannot finish first (with no pause,
    # 3,000 entries could all arrive before the kill and no retry ever happened)
    n = 4000
    journal = write_journal(tmp_path / "j.journal", entries(n))
    log = open(tmp_path / "shipper.err", "w")
    shipper = subprocess.Popen([sys.executable, "-m", "shipper", "--url", server.url, "--file", str(journal),
                                "--once", "--batch-size", "20", "--cursor", str(tmp_path / "cursor")],
                               cwd=REPO, stderr=log, stdout=subprocess.DEVNULL)
    wait_until(lambda: count(db)[0] >= 300, what="the first batches")
    shipper.send_signal(signal.SIGSTOP)
    try:
        assert count(db)[0] < n                                        # some left to send after the kill
        server.kill()
    finally:
        shipper.send_signal(signal.SIGCONT)
    wait_until(lambda: "server unavailable" in (tmp_path / "shipper.err").read_text(), what="a retry")
    assert shipper.poll() is None                                      # waiting, not dropping
    server.start()
    assert shipper.wait(120) == 0
    assert count(db) == (n, n)


def test_shipper_killed_mid_way_resumes_from_its_cursor(server, db, tmp_path):
    n, batch = 3000, 10
    journal = write_journal(tmp_path / "j.journal", entries(n))
    args = ["--url", server.url, "--file", str(journal), "--once", "--batch-size", str(batch),
            "--cursor", str(tmp_path / "cursor")]
    first = subprocess.Popen([sys.executable, "-m", "shipper", *args], cwd=REPO,
                             stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wait_until(lambda: count(db)[0] >= 500, what="some batches")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    stored_before = count(db)[0]
    assert stored_before < n
    second = ship(server.url, *args[2:])
    stats = final_stats(second.stderr)
    assert stats["read"] <= n - stored_before + batch                  # resumed, not from the head
    assert stats["duplicates"] <= batch                                 # at most one batch re-sent
    assert count(db) == (n, n)


def test_a_rejected_entry_does_not_stop_the_others(server, db, tmp_path):
    bad = {"__REALTIME_TIMESTAMP": 1768903200_000500, "_HOSTNAME": "node-1", "SYSLOG_IDENTIFIER": "app",
           "MESSAGE": "   "}                                             # the server rejects an empty message
    journal = write_journal(tmp_path / "j.journal", entries(10) + [bad] + entries(10, start_us=1768903201_000000))
    done = ship(server.url, "--file", journal, "--once", "--cursor", tmp_path / "cursor", "--batch-size", 50)
    stats = final_stats(done.stderr)
    assert (stats["accepted"], stats["rejected"]) == (20, 1)
    assert "message: empty" in done.stderr
    assert count(db) == (20, 20)
    assert final_stats(ship(server.url, "--file", journal, "--once", "--cursor", tmp_path / "cursor").stderr)["read"] == 0


def test_filters_drop_exactly_what_they_say(server, db, tmp_path):
    filters = tmp_path / "filters.yaml"
    filters.write_text("""
rules:
  - name: only-web-and-db
    action: include
    unit: [nginx.service, mariadb.service]
  - name: no-debug-chatter
    priority: debug
  - name: health-checks
    identifier: [nginx]
    message: 'served in 1\\dms'
""")
    data = entries(300)
    for i in range(0, 300, 10):
        data[i]["PRIORITY"] = 7
    journal = write_journal(tmp_path / "j.journal", data)
    done = ship(server.url, "--file", journal, "--once", "--filters", filters)
    units = [e["_SYSTEMD_UNIT"] for e in data]
    not_included = sum(u == "ollama.service" for u in units)
    debug = sum(1 for e in data if e["PRIORITY"] == 7 and e["_SYSTEMD_UNIT"] != "ollama.service")
    health = sum(1 for i, e in enumerate(data) if e["PRIORITY"] != 7 and e["_SYSTEMD_UNIT"] == "nginx.service"
                 and 10 <= i % 97 <= 19)
    stats = final_stats(done.stderr)
    assert stats["dropped_by_rule"] == {"not-included": not_included, "no-debug-chatter": debug,
                                        "health-checks": health}
    assert count(db)[0] == 300 - not_included - debug - health


@pytest.mark.parametrize("text, fragment", [
    ("rules:\n  - name: bad-regex\n    message: '(unclosed'\n", "rule 'bad-regex' (#1): message is not a valid"),
    ("rules:\n  - name: ok\n    unit: a.service\n  - name: typo\n    units: [a]\n", "rule 'typo' (#2): unknown key"),
    ("rules:\n  - name: p\n    priority: 9\n", "rule 'p' (#1): priority 9"),
    ("rules:\n  - {name: empty}\n", "rule 'empty' (#1): give at least one"),
])
def test_a_bad_filters_file_fails_at_start_naming_the_rule(tmp_path, text, fragment):
    filters = tmp_path / "filters.yaml"
    filters.write_text(text)
    journal = write_journal(tmp_path / "j.journal", entries(3))
    done = ship("http://127.0.0.1:9", "--file", journal, "--once", "--filters", filters, check=False)
    assert done.returncode == 2
    assert fragment in done.stderr


def test_dry_run_prints_batches_and_sends_nothing(tmp_path):
    journal = write_journal(tmp_path / "j.journal", entries(7))
    done = ship("http://127.0.0.1:9", "--file", journal, "--once", "--dry-run", "--batch-size", 5,
                "--cursor", tmp_path / "cursor")
    batches = [json.loads(line)["logs"] for line in done.stdout.splitlines()]
    assert [len(b) for b in batches] == [5, 2]
    assert batches[0][0]["service"] == "nginx.service" and batches[0][0]["timestamp"] == 1768903200_000000
    assert not (tmp_path / "cursor").exists()


def test_sigterm_flushes_and_exits_cleanly(server, db, tmp_path):
    journal = write_journal(tmp_path / "j.journal", entries(40))
    log = tmp_path / "shipper.err"
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "--url", server.url, "--file", str(journal),
                             "--batch-size", "1000", "--flush-interval", "600", "--cursor", str(tmp_path / "cursor")],
                            cwd=REPO, stderr=open(log, "w"), stdout=subprocess.DEVNULL)
    wait_until(lambda: count(db)[0] == 40, what="the caught-up flush")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert final_stats(log.read_text())["accepted"] == 40
    assert (tmp_path / "cursor").read_text().startswith("s=")


def test_devmesh_ship_is_the_same_cli(tmp_path):
    out = subprocess.run([sys.executable, "-m", "server", "ship", "--help"], cwd=REPO, capture_output=True,
                         text=True, env={**os.environ})
    assert out.returncode == 0 and "--flush-interval" in out.stdout
