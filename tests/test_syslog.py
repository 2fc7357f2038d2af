"""The syslog listener with real clients: util-linux `logger` (TCP, UDP, RFC 5424, RFC 3164)
and rsyslog forwarding with omfwd, into a real server and MariaDB."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from evals.live import LiveServer, free_port, wait_until
from ingest.syslog import FrameError, Framer


@pytest.fixture
def listener(db_urls, tmp_path):
    port = free_port()
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log",
                      env={"DEVMESH_SYSLOG_LISTEN": f"127.0.0.1:{port}"}).start()
    yield port
    live.stop()


def logger(port: int, *args: str) -> None:
    path = shutil.which("logger")
    assert path, "util-linux logger not found (Debian: bsdutils)"
    done = subprocess.run([path, "--server", "127.0.0.1", "--port", str(port), *args],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def rows(db, tag: str) -> list[tuple]:
    return db.fetchall("SELECT host, service, level, message, source FROM log_events WHERE service = ? "
                       "ORDER BY message", (tag,))


@pytest.mark.parametrize("transport", ["--tcp", "--udp"])
@pytest.mark.parametrize("rfc", ["--rfc5424", "--rfc3164"])
def test_logger_over_tcp_and_udp_in_both_formats(listener, db, transport, rfc):
    tag = f"app{transport[2:]}{rfc[5:]}"
    for n in range(3):
        logger(listener, transport, rfc, "-t", tag, "-p", "daemon.err" if n == 0 else "daemon.info",
               f"disk check {n} done")
    wait_until(lambda: len(rows(db, tag)) == 3, 20, f"3 lines from logger {transport} {rfc}")
    got = rows(db, tag)
    assert [r[3] for r in got] == ["disk check 0 done", "disk check 1 done", "disk check 2 done"]
    assert {r[4] for r in got} == {"syslog"}
    assert got[0][2] == "error" and got[1][2] == "info"


def test_logger_octet_counted_frames(listener, db):
    logger(listener, "--tcp", "--octet-count", "--rfc5424", "-t", "framed", "two words")
    wait_until(lambda: len(rows(db, "framed")) == 1, 20, "an octet-counted frame")


def test_rsyslog_forwards_with_omfwd(listener, db, tmp_path):
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    assert shutil.os.path.exists(rsyslogd), "rsyslogd not found: `make` installs rsyslog (Debian)"
    intake = free_port()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{tmp_path}")
module(load="imtcp")
input(type="imtcp" port="{intake}" address="127.0.0.1")
action(type="omfwd" target="127.0.0.1" port="{listener}" protocol="tcp" TCP_Framing="octet-counted"
       template="RSYSLOG_SyslogProtocol23Format")
""")
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _accepts(intake), 20, "rsyslog listening")
        for n in range(5):
            logger(intake, "--tcp", "--rfc3164", "-t", "nas", f"volume scrub {n} finished")
        wait_until(lambda: len(rows(db, "nas")) == 5, 30, "5 lines forwarded by rsyslog")
    finally:
        proc.terminate()
        proc.wait(10)
    assert [r[3] for r in rows(db, "nas")] == [f"volume scrub {n} finished" for n in range(5)]


def _accepts(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_framing_by_octet_count_and_by_newline_mixed_and_split_anywhere():
    stream = b"11 <13>one two\n<13>three\n5 <13>x"
    for size in (1, 3, len(stream)):
        framer = Framer(1024)
        frames = []
        for i in range(0, len(stream), size):
            frames += framer.feed(stream[i:i + size])
        assert frames == [b"<13>one two", b"<13>three", b"<13>x"]


def test_an_oversized_frame_closes_the_connection_with_a_reason():
    with pytest.raises(FrameError, match="over"):
        Framer(100).feed(b"5000 <13>...")
    with pytest.raises(FrameError, match="line over"):
        Framer(100).feed(b"<13>" + b"x" * 200)


def test_lines_received_while_mariadb_is_down_are_stored_when_it_is_back(instance, tmp_path):
    from db.pool import Database

    inst, url = instance
    port = free_port()
    live = LiveServer(str(url), tmp_path / "server.log", env={"DEVMESH_SYSLOG_LISTEN": f"127.0.0.1:{port}"}).start()
    try:
        inst.stop()
        for n in range(5):
            logger(port, "--tcp", "--rfc5424", "-t", "router", f"link {n} flapped")
        inst.start()
        db = Database(url)
        wait_until(lambda: len(rows(db, "router")) == 5, 60, "the 5 lines held while MariaDB was down")
        db.close()
    finally:
        live.stop()
