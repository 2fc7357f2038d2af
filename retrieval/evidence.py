"""Evidence: what retrieval hands to agents and people, with a stable id to cite."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Evidence:
    kind: str                      # template | event | runbook | incident
    id: str                        # stable and citable: "template:<id>", "event:<id>", "runbook:<id>"
    text: str
    score: float = 0.0
    components: dict[str, float] = field(default_factory=dict)   # why it ranks where it does
    sources: list[str] = field(default_factory=list)             # vector | graph | rollup | inventory
    services: list[str] = field(default_factory=list)
    count: int = 0
    level: str | None = None
    examples: list[dict] = field(default_factory=list)           # {"id": "event:<id>", "ts", "host", "message"}

    def as_dict(self) -> dict:
        return asdict(self)


def template_ref(template_id: int) -> str:
    return f"template:{template_id}"


def event_ref(event_id: int) -> str:
    return f"event:{event_id}"


def example(event: dict, limit: int = 300) -> dict:
    message = event["message"]
    return {"id": event_ref(event["id"]), "ts": event["ts"], "host": event["host"], "service": event["service"],
            "message": message if len(message) <= limit else message[:limit] + "..."}
