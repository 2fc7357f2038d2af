"""Template identity across processes: same lines, different orders, same templates and ids,
with the learned layer running at different moments in each (ingest/merging.py)."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from db.pool import Database
from ingest.templates import learned_templates_of, template_of

REPO = Path(__file__).resolve().parent.parent
LOGHUB = REPO.parent / "shared" / "data" / "loghub2k"

_WORKER = """
import json, sys
from db.pool import Database
from db.settings import DBUrl
from ingest.merging import MergeMap, TemplateLearner
from ingest.pipeline import Ingestor
url, path, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
records = [json.loads(line) for line in open(path)]
db = Database(DBUrl.parse(url))
ingestor = Ingestor(db, merges=MergeMap(refresh_s=0))
learner = TemplateLearner(db, ingestor.merges)
for n, start in enumerate(range(0, len(records), 97)):
    ingestor.ingest(records[start:start + 97])
    if n % every == every - 1:
        learner.run()
learner.run()
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
    # statements whose variable is a word (no digit: the masks keep it), for the learner
    programs = ["chrome.exe", "firefox.exe", "dropbox.exe", "slack.exe", "outlook.exe", "teams.exe"]
    messages += [f"{programs[i % 6]} - proxy.example.net:5070 close, {i} bytes sent" for i in range(120)]
    messages += [f"queue {q} stalled on {w}" for q in ("mail", "print", "scan", "fax")
                 for w in ("alpha", "beta", "gamma")]
    return [{"timestamp": 1768903200 + i, "host": f"h{i % 3}", "service": "sshd", "message": m}
            for i, m in enumerate(messages)]


def run_workers(url: str, files: list[Path], every: list[int]) -> None:
    """One process per file; each runs the learner after every `every` batches and at the end."""
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, url, str(f), str(n)], cwd=REPO)
             for f, n in zip(files, every)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0


def templates(db: Database) -> dict[int, str]:
    """The templates in use (not merged into another)."""
    return dict(db.fetchall("SELECT id, template FROM log_templates t WHERE NOT EXISTS "
                            "(SELECT 1 FROM template_merges m WHERE m.from_id = t.id)"))


def event_templates(db: Database) -> dict[str, int]:
    return dict(db.fetchall("SELECT message, template_id FROM log_events"))


def test_two_processes_in_different_orders_end_with_the_same_templates(db_urls, db, base_urls, tmp_path):
    records = corpus()
    orders = []
    for seed in (1, 2):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        path = tmp_path / f"order{seed}.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in shuffled))
        orders.append(path)
    run_workers(str(db_urls[0]), orders, [3, 5])  # concurrently, into one database

    # the same lines ingested by one process in file order, into another database
    from tests.conftest import _create_database, _drop_database
    from db.migrate import migrate

    other_name = _create_database(base_urls[0])
    try:
        other = Database(base_urls[0].with_database(other_name))
        migrate(other)
        sequential = tmp_path / "sequential.jsonl"
        sequential.write_text("\n".join(json.dumps(r) for r in records))
        run_workers(str(other.url), [sequential], [2])
        assert templates(db) == templates(other)
        assert event_templates(db) == event_templates(other)
        other.close()
    finally:
        _drop_database(base_urls[0], other_name)

    # what `devmesh parse` computes for the lines alone, without a database
    messages = [r["message"] for r in records]
    offline = dict(zip(messages, (tid for tid, _ in learned_templates_of(messages))))
    assert event_templates(db) == offline
    assert set(templates(db)) == set(offline.values())
    assert len(set(offline.values())) < len({template_of(m)[0] for m in messages})   # learning merged some
    assert db.fetchone("SELECT COUNT(*) FROM log_events")[0] == len(records)
    assert db.fetchone("SELECT SUM(total_count) FROM log_templates t WHERE NOT EXISTS "
                       "(SELECT 1 FROM template_merges m WHERE m.from_id = t.id)")[0] == len(records)
    assert db.fetchone("SELECT SUM(count) FROM template_counts")[0] == len(records)
