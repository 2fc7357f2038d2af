"""Golden incident cases: `evals/cases/<slug>/{case.yaml, logs.jsonl[, inventory.yaml]}`.

The format is documented in evals/README.md. This module only reads and validates it;
nothing here (or anywhere in the product) knows any case by name.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from ingest.normalize import parse_timestamp

CASES_DIR = Path(__file__).resolve().parent / "cases"
DEFAULT_INVENTORY = Path(__file__).resolve().parent / "inventory.yaml"
_EXPECT_KEYS = {"incident", "detectors", "root_cause", "impacted", "evidence", "detect_within_s"}
_CASE_KEYS = {"title", "tags", "window", "expect", "trigger", "notes", "split"}
SPLITS = ("dev", "test")


class CaseError(ValueError):
    pass


@dataclass
class Case:
    slug: str
    path: Path
    title: str
    tags: list[str]
    start: datetime
    end: datetime
    incident: bool
    detectors: list[str] = field(default_factory=list)
    root_service: str | None = None
    root_host: str | None = None
    impacted: list[str] | None = None
    evidence: list[str] = field(default_factory=list)
    detect_within_s: float | None = None
    trigger_at: datetime | None = None
    trigger_service: str | None = None
    split: str = "dev"                       # dev: mechanisms may be tuned on it; test: only reported

    @property
    def logs(self) -> Path:
        """logs.jsonl, or logs.jsonl.gz (large recorded sets are kept compressed)."""
        plain = self.path / "logs.jsonl"
        packed = self.path / "logs.jsonl.gz"
        return packed if packed.exists() and not plain.exists() else plain

    @property
    def inventory(self) -> Path:
        own = self.path / "inventory.yaml"
        return own if own.exists() else DEFAULT_INVENTORY

    def records(self) -> list[dict]:
        opener = gzip.open if self.logs.suffix == ".gz" else open
        with opener(self.logs, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]


def load(path: Path) -> Case:
    where = path / "case.yaml"
    try:
        raw = yaml.safe_load(where.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CaseError(f"{where}: {exc}") from None
    if not isinstance(raw, dict) or set(raw) - _CASE_KEYS:
        raise CaseError(f"{where}: expected keys {sorted(_CASE_KEYS)}")
    expect = raw.get("expect") or {}
    if set(expect) - _EXPECT_KEYS:
        raise CaseError(f"{where}: unknown expect keys {sorted(set(expect) - _EXPECT_KEYS)}")
    window = raw.get("window") or {}
    if not {"start", "end"} <= set(window):
        raise CaseError(f"{where}: window needs start and end")
    root = expect.get("root_cause") or {}
    trigger = raw.get("trigger") or {}
    case = Case(slug=path.name, path=path, title=str(raw.get("title", path.name)), tags=list(raw.get("tags") or []),
                start=parse_timestamp(str(window["start"])), end=parse_timestamp(str(window["end"])),
                incident=bool(expect.get("incident", True)), detectors=list(expect.get("detectors") or []),
                root_service=root.get("service"), root_host=root.get("host"),
                impacted=list(expect["impacted"]) if "impacted" in expect else None,
                evidence=list(expect.get("evidence") or []), detect_within_s=expect.get("detect_within_s"),
                trigger_at=parse_timestamp(str(trigger["at"])) if trigger.get("at") else None,
                trigger_service=trigger.get("service"), split=str(raw.get("split", "dev")))
    if case.split not in SPLITS:
        raise CaseError(f"{where}: split must be one of {', '.join(SPLITS)}, not {case.split!r}")
    if not case.logs.exists():
        raise CaseError(f"{path}: logs.jsonl (or logs.jsonl.gz) is missing")
    if case.start >= case.end:
        raise CaseError(f"{where}: window start must be before its end")
    return case


def discover(root: Path = CASES_DIR, only: str | None = None, split: str | None = None) -> list[Case]:
    paths = sorted(p for p in root.iterdir() if (p / "case.yaml").exists()) if root.is_dir() else []
    if only:
        paths = [p for p in paths if p.name == only]
        if not paths:
            raise CaseError(f"no case {only!r} under {root}")
    cases = [load(p) for p in paths]
    return [c for c in cases if split is None or c.split == split]
