"""Exception clusters as the API and the CLI show them (reads only): a page of clusters
with a keyset cursor, and one cluster's detail: its representative trace with the frames
parsed at ingest (by section, innermost first), counts per minute, versions, newest events,
near clusters (same innermost in-app frame, same type, or a near semantic fingerprint), the
feedback given and the RCAs kept (db/code_index.kept_rcas)."""
from __future__ import annotations

from datetime import datetime, timedelta

from db import code_index as code_sql
from db import events as event_sql
from db import exception_reads as sql
from db import exception_vectors as vector_sql
from db.pool import Database


def _iso(value):
    return value.isoformat() + "Z" if isinstance(value, datetime) else value


def _public(cluster: dict) -> dict:
    return {k: _iso(v) for k, v in cluster.items()}


def encode_cursor(cluster: dict, sort: str) -> str:
    value = cluster["total_count"] if sort == "count" else cluster["last_seen"].isoformat()
    return f"{value}~{cluster['id']}"


def decode_cursor(cursor: str, sort: str) -> tuple:
    """(sort value, id) of a cursor from `next`; ValueError when it is not one."""
    value, _, ident = cursor.rpartition("~")
    if not value or not ident.isdigit() or len(ident) > 18 or (sort == "count" and not value.isdigit()) \
            or len(value) > 32:
        raise ValueError("cursor: pass back the `next` of the previous page (same sort)")
    return (int(value) if sort == "count" else datetime.fromisoformat(value)), int(ident)


def page(db: Database, service: list[str] | None = None, status: list[str] | None = None,
         since: datetime | None = None, sort: str = "count", limit: int = 50, cursor: str | None = None) -> dict:
    after = decode_cursor(cursor, sort) if cursor else None
    rows = sql.list_clusters(db, service, status, since, sort, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"clusters": [_public(c) for c in rows], "next": encode_cursor(rows[-1], sort) if more and rows else None}


def sections(frames: list[dict]) -> list[dict]:
    """Frames grouped by the exception they belong to, as printed."""
    out: list[dict] = []
    for f in frames:
        if not out or out[-1]["section"] != f["section"]:
            out.append({"section": f["section"], "exception_type": f["section_type"], "frames": []})
        out[-1]["frames"].append({k: f[k] for k in ("file", "function", "line", "module", "in_app")})
    return out


def near_duplicates(db: Database, embedder, cluster_id: int, k: int = 5) -> list[dict]:
    """Clusters whose semantic fingerprint (type, template, top frames) is near this one's."""
    table = vector_sql.vectors_table(db, embedder.name, embedder.dim, create=False) if embedder is not None else None
    out = []
    for other, distance in vector_sql.near(db, table, cluster_id, k) if table else []:
        found = sql.get_cluster(db, other)
        if found:
            out.append({k: found[k] for k in ("id", "service", "exception_type", "message_template", "total_count",
                                              "last_seen")} | {"reason": "similar text", "distance": round(distance, 4)})
    return out


def detail(db: Database, cluster_id: int, since: datetime | None = None, embedder=None) -> dict | None:
    cluster = sql.get_cluster(db, cluster_id)
    if cluster is None:
        return None
    rep_id = cluster["representative_event_id"]
    found = event_sql.neighbours(db, rep_id, 0)
    event = found["event"] if found else None
    similar = sql.similar(db, cluster_id)
    held = {s["id"] for s in similar}
    similar += [s for s in near_duplicates(db, embedder, cluster_id) if s["id"] not in held]
    return {
        "cluster": _public(cluster),
        "representative": {"event": event, "sections": sections(sql.frames(db, rep_id))},
        "counts": [{"bucket": _iso(b), "count": n} for b, n in sql.counts(db, cluster_id, since)],
        "versions": [_public(v) for v in sql.versions(db, cluster_id)],
        "events": [_public(e) for e in sql.events(db, cluster_id)],
        "similar": [_public(s) for s in similar],
        "feedback": [_public(f) for f in sql.feedback(db, cluster_id)],
        "rca": code_sql.kept_rcas(db, cluster_id),     # kept per version, newest first; compute: GET .../rca
    }


def of_incident(db: Database, incident: dict, signals: list[dict], limit: int = 10) -> list[dict]:
    """The exception clusters an incident holds: those its signals name (a new or regressed
    cluster), then its services' clusters with events in its window, most events first."""
    named = [s["detail"]["cluster_id"] for s in signals if isinstance(s.get("detail", {}).get("cluster_id"), int)]
    services = sorted({*(incident.get("services") or []), *([incident["service"]] if incident.get("service") else [])})
    counted: dict[int, int] = {}
    if incident.get("window_start") and incident.get("window_end"):
        start = datetime.fromisoformat(incident["window_start"].removesuffix("Z"))
        end = datetime.fromisoformat(incident["window_end"].removesuffix("Z")) + timedelta(minutes=1)
        counted = dict(sql.clusters_in(db, services, start, end, limit))
    out = []
    for cluster_id in dict.fromkeys([*named, *counted]):
        found = sql.get_cluster(db, cluster_id)
        if found is not None and len(out) < limit:
            out.append(_public({k: found[k] for k in ("id", "service", "exception_type", "message_template",
                                                      "status", "total_count", "last_seen")})
                       | {"events_in_window": counted.get(cluster_id, 0), "signalled": cluster_id in named})
    return out
