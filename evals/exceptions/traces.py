"""The exception of one captured run, read from its lines: its type, message and frames
(innermost first), for Python tracebacks and Node stacks. The eval's own reader, kept
small on purpose: it only needs the two shapes these programs print, and it is replaced by
ingest's stack-trace parser where that exists (evals/exceptions/score.py)."""
from __future__ import annotations

import re

_PY_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (.+)$')
_NODE_FRAME = re.compile(r"^\s*at (?:(.+?) \()?([^()\s]+?):(\d+):(\d+)\)?$")
_EXC = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|InvalidOperation|Funds)?):\s?(.*)$")


def read(lines: list[str]) -> dict | None:
    """{type, message, frames: [{file, function, line}]} of the last exception in `lines`."""
    lines = [part for line in lines for part in line.split("\n")]     # ingest joins a trace into one event
    frames: list[dict] = []
    exc_type = exc_message = None
    py = any(line.startswith("Traceback (most recent call last)") for line in lines)
    for line in lines:
        if py:
            m = _PY_FRAME.match(line)
            if m:
                frames.append({"file": m.group(1), "function": m.group(3), "line": int(m.group(2))})
                continue
            if not line.startswith(" ") and ":" in line and frames:
                e = _EXC.match(line)
                if e:
                    exc_type, exc_message = e.group(1), e.group(2)
        else:
            m = _NODE_FRAME.match(line)
            if m:
                frames.append({"file": m.group(2), "function": m.group(1) or "<anonymous>", "line": int(m.group(3))})
                continue
            e = _EXC.match(line)
            if e and not frames and "Error" in e.group(1):
                exc_type, exc_message = e.group(1), e.group(2)
    if exc_type is None:
        return None
    if py:
        frames.reverse()                        # Python prints the innermost last
    return {"type": exc_type, "message": exc_message, "frames": frames}
