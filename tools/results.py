"""The one envelope every tool returns: status, data, what was searched, whether it was cut."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MAX_TOKENS = 2000                      # about 8 kB of JSON: what a small model can read at once


@dataclass
class ToolResult:
    status: Literal["ok", "no_data", "error"]
    data: Any = None
    searched: dict = field(default_factory=dict)       # the parameters used, so a model can correct itself
    truncated: bool = False
    hint: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def capped(data: list, searched: dict, max_tokens: int = MAX_TOKENS) -> ToolResult:
    """Cut a list so its JSON stays under the cap; say so and how to narrow it."""
    if not data:
        return ToolResult("no_data", [], searched, hint="nothing matched; widen the window or check the names")
    kept = list(data)
    while len(kept) > 1 and len(json.dumps(kept, default=str)) / 4 > max_tokens:
        kept = kept[: max(1, len(kept) * 2 // 3)]
    if len(kept) < len(data):
        return ToolResult("ok", kept, searched, True,
                          f"{len(data) - len(kept)} more not shown; narrow your query (a service, a shorter window)")
    return ToolResult("ok", kept, searched)
