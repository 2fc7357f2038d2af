"""The lab shop's named SQL statements, read from shop.sql (no SQL text in .py files)."""
from __future__ import annotations

from pathlib import Path


def load(path: Path = Path(__file__).resolve().parent / "shop.sql") -> dict[str, str]:
    out: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines():
        if line.startswith("-- name:"):
            name = line.split(":", 1)[1].strip()
            out[name] = []
        elif name and line.strip() and not line.startswith("--"):
            out[name].append(line.strip())
    return {k: " ".join(v) for k, v in out.items()}
