"""The journal cursor, saved atomically only after the server acknowledged a batch."""
from __future__ import annotations

import os
from pathlib import Path


class CursorStore:
    def __init__(self, path: Path | None):
        self.path = path

    def load(self) -> str | None:
        if self.path is None:
            return None
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def save(self, cursor: str) -> None:
        """write temp -> fsync -> rename -> fsync dir: a crash leaves the old or the new cursor."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(cursor)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
