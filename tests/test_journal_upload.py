"""POST /upload with systemd's own uploader: the real `systemd-journal-upload --file` on a
journal file made by `systemd-journal-remote`, against a real server and MariaDB."""
from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from db.pool import Database
from evals.live import LiveServer, wait_until
from ingest.journal_upload import ExportFormatError, ExportParser
from shipper.export import export_format, write_journal
from tests.test_shipper import BOOT, count, entries, final_stats, ship

UPLOADERS = ("/lib/systemd/systemd-journal-upload", "/usr/lib/systemd/systemd-journal-upload")


def uploader() -> str:
    for path in UPLOADERS:
        if Path(path).exists():
            return path
    raise AssertionError("systemd-journal-upload not found: `make` installs systemd-journal-remote (Debian)")


def upload(url: str, journal: Path, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run([uploader(), f"--url={url}", f"--file={journal}", f"--save-state={state}", "--follow=no"],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def server(db_urls, tmp_path):
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log").start()
    yield live
    live.stop()


def test_the_real_uploader_stores_every_entry_once_and_saves_its_cursor(server, db, tmp_path):
    journal = write_journal(tmp_path / "up.journal", entries(1500) + [{
        "__REALTIME_TIMESTAMP": 1768903300_000000, "_HOSTNAME": "node-2", "SYSLOG_IDENTIFIER": "kernel",
        "PRIORITY": 2, "MESSAGE": b"bad \xff byte\nsecond line"}], boot_id=BOOT)
    state = tmp_path / "state"
    done = upload(server.url, journal, state)
    assert done.returncode == 0, done.stderr[-2000:]
    assert count(db) == (1501, 1501)
    assert "LAST_CURSOR=" in state.read_text()                      # it advanced: we answered as journal-remote
    row = db.fetchone("SELECT host, service, level, message, source FROM log_events WHERE service = 'kernel'")
    assert row == ("node-2", "kernel", "critical", "bad \ufffd byte\nsecond line", "journald")
    again = upload(server.url, journal, tmp_path / "fresh-state")   # everything again: nothing added
    assert again.returncode == 0, again.stderr[-2000:]
    assert count(db) == (1501, 1501)


def test_a_line_sent_by_the_uploader_and_by_our_shipper_is_stored_once(server, db, tmp_path):
    journal = write_journal(tmp_path / "both.journal", entries(200), boot_id=BOOT)
    assert upload(server.url, journal, tmp_path / "state").returncode == 0
    shipped = ship(server.url, "--file", journal, "--once", "--cursor", tmp_path / "cursor")
    assert final_stats(shipped.stderr)["accepted"] == 0
    assert count(db) == (200, 200)


def test_with_tokens_the_uploader_authenticates_by_its_url(db_urls, db, tmp_path):
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log",
                      env={"DEVMESH_API_TOKENS": "s3cret:ingest,other:read"}).start()
    try:
        journal = write_journal(tmp_path / "t.journal", entries(30), boot_id=BOOT)
        refused = upload(live.url, journal, tmp_path / "s1")
        assert refused.returncode != 0 and count(db) == (0, 0)
        wrong_scope = upload(f"{live.url}/journal/other", journal, tmp_path / "s2")
        assert wrong_scope.returncode != 0 and count(db) == (0, 0)
        done = upload(f"{live.url}/journal/s3cret", journal, tmp_path / "s3")
        assert done.returncode == 0, done.stderr[-2000:]
        assert count(db) == (30, 30)
    finally:
        live.stop()


def test_while_mariadb_is_down_the_upload_fails_its_cursor_stays_and_a_retry_stores_all(instance, tmp_path):
    inst, url = instance
    live = LiveServer(str(url), tmp_path / "server.log").start()
    try:
        journal = write_journal(tmp_path / "d.journal", entries(50), boot_id=BOOT)
        state = tmp_path / "state"
        inst.stop()
        down = upload(live.url, journal, state)
        assert down.returncode != 0
        assert not state.exists() or "LAST_CURSOR" not in state.read_text()
        inst.start()
        # the uploader's unit restarts it until it succeeds; the first try after the restart
        # may still meet a pooled connection to the old server (one more 503)
        wait_until(lambda: upload(live.url, journal, state).returncode == 0, 60, "an upload once MariaDB is back")
        assert "LAST_CURSOR=" in state.read_text()
    finally:
        live.stop()
    db = Database(url)
    assert count(db) == (50, 50)
    db.close()


def _parse(body: bytes, chunk: int) -> list[dict]:
    parser = ExportParser()
    out = []
    for i in range(0, len(body), chunk):
        out += parser.feed(body[i:i + chunk])
    return out + parser.close()


def test_the_parser_reads_text_and_binary_fields_in_any_chunking():
    body = export_format([{"__REALTIME_TIMESTAMP": 1, "MESSAGE": "one"},
                          {"__REALTIME_TIMESTAMP": 2, "MESSAGE": b"two\nlines\x00bin"}], boot_id=BOOT)
    for chunk in (1, 7, 64, len(body)):
        parsed = _parse(body, chunk)
        assert [e["MESSAGE"] for e in parsed] == [b"one", b"two\nlines\x00bin"]
        assert parsed[1]["_BOOT_ID"] == BOOT.encode()


@pytest.mark.parametrize("body, why", [
    (b"not a field\n\n", "not a journal field name"),
    (b"MESSAGE\n" + struct.pack("<Q", 1 << 40), "over"),
    (b"MESSAGE\n" + struct.pack("<Q", 3) + b"abcX", "does not end with a newline"),
    (b"MESSAGE=" + b"x" * 70_000, "longer than"),
    (b"MESSAGE\n" + struct.pack("<Q", 10) + b"abc", "ends inside a field"),
])
def test_a_body_that_is_not_the_export_format_is_refused_with_the_reason(body, why):
    with pytest.raises(ExportFormatError, match=why):
        _parse(body, 4096)
