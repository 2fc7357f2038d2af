"""`devmesh bench runbooks` (issue 21): a runbook directory's ingest and retrieval speed,
one JSON object printed last; the numbers it reports are checked for what they claim."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_runbooks_prints_its_measurements_last(base_urls, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "pool.md").write_text("# Pool exhausted\n\n## 1. Check the pool\n\n```\n"
                                   "ERROR 1040 (HY000): Too many connections\n```\n\n## 2. Restart\n\nOne by one.\n")
    (books / "disk.rst").write_text("---\nid: disk\n---\nDisk\n====\n\nSee ``x``.\n\nFree space\n----------\n\n"
                                    "    write failed: No space left on device (errno 28)\n")
    out = subprocess.run([sys.executable, "-m", "server", "bench", "runbooks", str(books), "--json", "--copies", "3",
                          "--templates", "300", "--queries", "12"], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "DEVMESH_DB_URL": str(base_urls[0]), "DEVMESH_EMBED_BACKEND": "hash"},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["runbooks"], result["sections"], result["errors"]) == (6, 15, 0)
    assert result["templates"] == 300 and result["template_links"] == 6      # each copy links its quoted line
    assert result["reingest_unchanged_written"] == 0 and result["one_changed_sections"] == 1
    assert result["queries"] == 12 and result["find_p50_ms"] > 0
    assert result["runbook_at_1"] == result["section_at_1"] == 1.0
    assert result["embedder"].startswith("hash")
    assert result["follow_new_templates"] == 1000 and result["follow_links"] == 0 and result["follow_s"] > 0
