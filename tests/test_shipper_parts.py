"""Shipper parts without a server: filters, mapping, cursor, the deployment files."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from shipper import filters
from shipper.cli import parser
from shipper.cursor import CursorStore
from shipper.journal import to_record

SHIPPER = Path(__file__).resolve().parent.parent / "shipper"


def test_include_then_exclude_semantics():
    f = filters.parse({"rules": [
        {"name": "web", "action": "include", "unit": ["nginx.service"]},
        {"name": "quiet", "priority": "6..7"},
        {"name": "probes", "message": r"GET /health"}]})
    assert f.drop_reason("sshd.service", None, 3, "x") == "not-included"
    assert f.drop_reason("nginx.service", None, 7, "x") == "quiet"
    assert f.drop_reason("nginx.service", None, 3, "GET /health 200") == "probes"
    assert f.drop_reason("nginx.service", None, 3, "upstream timed out") is None
    assert f.dropped == {"not-included": 1, "quiet": 1, "probes": 1}


def test_priority_names_and_ranges():
    rule = filters.parse({"rules": [{"name": "x", "priority": ["err", "0..1"]}]}).rules[0]
    assert rule.priorities == {0, 1, 3}


def test_the_example_filters_file_is_valid():
    loaded = filters.load(SHIPPER / "filters.example.yaml")
    assert [r.name for r in loaded.rules] == ["debug-chatter", "health-checks", "session-noise"]


def test_the_unit_runs_the_cli_with_flags_it_accepts():
    unit = (SHIPPER / "devmesh-shipper.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[:3] == ["/usr/bin/python3", "-m", "shipper"]
    args = parser().parse_args(argv[3:])
    assert str(args.cursor) == "/var/lib/devmesh-shipper/cursor"
    for setting in ("Restart=on-failure", "DynamicUser=yes", "SupplementaryGroups=systemd-journal",
                    "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=devmesh-shipper"):
        assert setting in unit


def test_install_script_is_valid_bash_and_requires_a_url():
    script = SHIPPER / "install.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert out.returncode == 2 and "--url is required" in out.stderr


def test_mapping_falls_back_from_unit_to_identifier():
    record = to_record({"__REALTIME_TIMESTAMP": 5, "SYSLOG_IDENTIFIER": "cron", "MESSAGE": "x", "PRIORITY": 6,
                        "_HOSTNAME": "h"}, host_name="override")
    assert (record["service"], record["host"], record["level"], record["timestamp"]) == ("cron", "override", 6, 5)


def test_cursor_is_replaced_atomically(tmp_path):
    store = CursorStore(tmp_path / "state" / "cursor")
    assert store.load() is None
    store.save("s=1")
    store.save("s=2")
    assert store.load() == "s=2"
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["cursor"]


@pytest.mark.parametrize("data", [{"rules": "x"}, {"rule": []}, {"rules": [{"name": "a", "action": "drop",
                                                                              "unit": "u"}]}])
def test_malformed_filters(data):
    with pytest.raises(filters.FilterError):
        filters.parse(data)
