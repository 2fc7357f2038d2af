"""The RCA of an exception cluster: which of its events to read (the newest one logged by the
version asked for, else the newest), its parsed frames (the reported exception's section,
innermost first), the lines its service wrote just before and after it, then
agents/rca_run.rca_for, cached per (cluster, version)."""
from __future__ import annotations

from db import events as event_sql
from db import exception_reads as clusters
from db.pool import Database
from agents.rca_run import Failure, rca_for

CONTEXT_LINES = 10
SCAN_EVENTS = 200


class ClusterNotFound(LookupError):
    pass


def failure_of(db: Database, cluster_id: int, version: str | None = None) -> Failure:
    cluster = clusters.get_cluster(db, cluster_id)
    if cluster is None:
        raise ClusterNotFound(f"no exception cluster {cluster_id}; list them with GET /clusters")
    recent = clusters.events(db, cluster_id, SCAN_EVENTS)
    if version is not None:
        chosen = next((e for e in recent if e["version"] == version), None)
        if chosen is None:
            raise ClusterNotFound(f"cluster {cluster_id} has no event logged by version {version!r}; its versions: "
                                  + ", ".join(str(v["version"]) for v in clusters.versions(db, cluster_id)[:10]))
    else:
        chosen = recent[0] if recent else {"event_id": cluster["representative_event_id"], "version": None,
                                           "exception_type": cluster["exception_type"], "message": ""}
    return failure_of_event(db, cluster["service"], chosen)


def failure_of_event(db: Database, service: str, event: dict) -> Failure:
    """One exception event ({event_id, version, exception_type, message}, as
    db.exception_reads.events lists them) as the RCA reads it."""
    frames = clusters.frames(db, event["event_id"])
    sections = sorted({f["section"] for f in frames})
    primary = [s for s in sections if any(f["section_type"] == event["exception_type"] for f in frames
                                          if f["section"] == s)]
    section = primary[-1] if primary else (sections[-1] if sections else 0)
    around = event_sql.neighbours(db, event["event_id"], CONTEXT_LINES) or {}
    lines = (around.get("service") or {}).get("before", []) + (around.get("service") or {}).get("after", [])
    return Failure(service=service, version=event["version"], exception_type=event["exception_type"],
                   message=event["message"] or "",
                   frames=[{k: f[k] for k in ("file", "function", "line", "module", "in_app")}
                           for f in frames if f["section"] == section],
                   events=[{"id": e["id"], "message": e["message"]} for e in lines],
                   exception_event_ids=[event["event_id"]])


def cluster_rca(db: Database, embedder, cluster_id: int, version: str | None = None, llm=None,
                mask: tuple[str, ...] = (), refresh: bool = False, llm_name: str = "llm") -> dict:
    """The cluster's RCA JSON (ClusterNotFound for an unknown cluster or version)."""
    failure = failure_of(db, cluster_id, version)
    return rca_for(db, embedder, failure, cluster_id, llm, mask, refresh, llm_name)
