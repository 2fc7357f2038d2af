"""Template identity across processes: same lines, different orders, same templates and ids."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from db.pool import Database
from ingest.templates import template_of

REPO = Path(__file__).resolve().parent.parent
LOGHUB = REPO.parent / "shared" / "data" / "loghub2k"

_WORKER = """
import json, sys
from db.pool import Database
from db.settings import DBUrl
from ingest.pipeline import Ingestor
url, path = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in open(path)]
ingestor = Ingestor(Database(DBUrl.parse(url)))
for start in range(0, len(records), 97):
    ingestor.ingest(records[start:start + 97])
"""


def corpus() -> list[dict]:
    """Real lines (Loghub OpenSSH + Linux, from ../shared) when present, else generated ones."""
    messages = []
    for name in ("OpenSSH", "Linux"):
        path = LOGHUB / name / f"{name}_2k.log_structured_corrected.csv"
        if path.exists():
            import csv

            with open(path, newline="") as fh:
                messages += [row["Content"] for row in csv.DictReader(fh)][:600]
    if not messages:
        print("../shared/data/loghub2k is absent; using generated lines")
        messages = [f"Failed password for user{i % 7} from 10.0.{i % 5}.{i % 200} port {1000 + i} ssh2"
                    for i in range(1200)]
    return [{"timestamp": 1768903200 + i, "host": f"h{i % 3}", "service": "sshd", "message": m}
            for i, m in enumerate(messages)]


def run_workers(url: str, files: list[Path]) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, url, str(f)], cwd=REPO) for f in files]
    for proc in procs:
        assert proc.wait(timeout=120) == 0


def templates(db: Database) -> dict[int, str]:
    return dict(db.fetchall("SELECT id, template FROM log_templates"))


def test_two_processes_in_different_orders_end_with_the_same_templates(db_urls, db, base_urls, tmp_path):
    records = corpus()
    orders = []
    for seed in (1, 2):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        path = tmp_path / f"order{seed}.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in shuffled))
        orders.append(path)
    run_workers(str(db_urls[0]), orders)          # concurrently, into one database

    # the same lines ingested by one process in file order, into another database
    from tests.conftest import _create_database, _drop_database
    from db.migrate import migrate

    other_name = _create_database(base_urls[0])
    try:
        other = Database(base_urls[0].with_database(other_name))
        migrate(other)
        sequential = tmp_path / "sequential.jsonl"
        sequential.write_text("\n".join(json.dumps(r) for r in records))
        run_workers(str(other.url), [sequential])
        assert templates(db) == templates(other)
        other.close()
    finally:
        _drop_database(base_urls[0], other_name)

    expected_ids = {template_of(r["message"])[0] for r in records}
    assert set(templates(db)) == expected_ids
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == len(records)
    assert db.fetchone("SELECT SUM(total_count) FROM log_templates")[0] == len(records)
    for event_id, message, template_id in db.fetchall("SELECT id, message, template_id FROM log_events"):
        assert template_of(message)[0] == template_id, message
