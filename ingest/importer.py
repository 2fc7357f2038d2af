"""`devmesh import FILE...`: lines from files, through the same pipeline as HTTP, with progress."""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ingest.formats import parse_line
from ingest.normalize import RecordError
from ingest.pipeline import Ingestor


def import_files(ingestor: Ingestor, files: list[Path], batch_size: int = 1000,
                 default_host: str | None = None, default_service: str | None = None,
                 progress: bool = True) -> dict:
    totals = {"files": len(files), "lines": 0, "accepted": 0, "duplicates": 0, "rejected": 0,
              "new_templates": 0, "unmapped": 0, "errors": []}

    def note(error: str) -> None:
        totals["rejected"] += 1
        if len(totals["errors"]) < 20:
            totals["errors"].append(error)

    origins: list[tuple[Path, list[int]]] = []          # per batch: file and line numbers

    def batches(bar):
        for path in files:
            records, numbers = [], []
            with open(path, encoding="utf-8", errors="replace") as fh:
                for number, line in enumerate(fh, 1):
                    bar.update(len(line.encode("utf-8", "replace")))
                    if not line.strip():
                        continue
                    totals["lines"] += 1
                    try:
                        records.append(parse_line(line, default_host, default_service))
                    except RecordError as exc:
                        note(f"{path}:{number}: {exc}")
                        continue
                    numbers.append(number)
                    if len(records) >= batch_size:
                        origins.append((path, numbers))
                        yield records
                        records, numbers = [], []
            if records:
                origins.append((path, numbers))
                yield records

    with tqdm(total=sum(p.stat().st_size for p in files), unit="B", unit_scale=True,
              disable=not progress, desc="import") as bar:
        for index, result in enumerate(ingestor.ingest_stream(batches(bar))):
            totals["accepted"] += result.accepted
            totals["duplicates"] += result.duplicates
            totals["new_templates"] += result.new_templates
            totals["unmapped"] += result.unmapped
            path, numbers = origins[index]
            for rej in result.rejected:
                note(f"{path}:{numbers[rej['index']]}: {rej['error']}")
    return totals
