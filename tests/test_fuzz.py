"""Issue 15: schema-driven fuzzing finds no server error.

schemathesis (pinned in `.[test]`) runs against a real `devmesh serve` on a database of its
own, with a fixed seed and a bounded number of examples per operation, over every operation
/openapi.json documents (the receivers' bodies included, ingest/wire_schema.py).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from evals.live import LiveServer

REPO = Path(__file__).resolve().parent.parent


def test_no_generated_request_gets_a_server_error(db_urls, tmp_path):
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is part of `.[test]`; run `make test` (it installs it)"
    live = LiveServer(str(db_urls[0]), tmp_path / "server.log",
                      env={"DEVMESH_INVENTORY": str(REPO / "inventory.yaml")}).start()
    try:
        out = subprocess.run([cli, "run", f"{live.url}/openapi.json", "--checks", "not_a_server_error",
                              "--max-examples", "8", "--seed", "1415", "--no-color"],
                             capture_output=True, text=True, timeout=600)
    finally:
        live.stop()
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-1000:]     # non-zero on any 5xx
