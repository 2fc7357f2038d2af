"""Exception events into clusters: which records are exceptions (ingest/stacktrace.parse on
the joined text), and the rows the writer adds for the ones it inserted, inside the same
transaction (db/exceptions.py): the cluster upsert per (service, fingerprint), the link
event -> cluster with the logged version, the parsed frames, per-minute cluster counts.

Which frames are a service's own is configurable per service (DEVMESH_EXCEPTIONS_IN_APP /
DEVMESH_EXCEPTIONS_NOT_IN_APP, JSON objects of service -> substrings of a frame's file or
prefixes of its module), beside the defaults of ingest/stacktrace.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic_settings import BaseSettings, SettingsConfigDict

from db import deploy_versions
from db import exceptions as sql
from ingest.normalize import Record
from ingest.stacktrace import DEFAULT_RULES, InAppRules, ParsedException, parse
from ingest.templates import Template, template_for

VERSION_KEYS = ("version", "commit", "git_commit", "revision", "service.version")
# a deploy or start line that names what runs: a verb of starting or deploying, then a
# version word followed by a release number or a commit hash ("Starting ledger version 1.4.2",
# "deployed commit 9f1c2ab", "release v2.3.0 rolled out"); a bare number is never taken
_DEPLOY_VERB = re.compile(r"\b(?:start(?:s|ed|ing)?|boot(?:ed|ing)?|deploy(?:s|ed|ing|ment)?|releas(?:e|ed|ing)|"
                          r"roll(?:ed|ing)? out|rollout|upgrad(?:e|ed|ing)|running|launch(?:ed|ing)?)\b", re.I)
_DEPLOY_VERSION = re.compile(r"\b(?:version|release|build|revision|commit|rev|ver)\b[\s:=#]*[\"']?"
                             r"(v?\d+(?:\.\d+){1,3}(?:[-+][0-9A-Za-z.-]+)?|[0-9a-f]{7,40})(?![\w.])", re.I)


def deploy_version(message: str) -> str | None:
    """The version a deploy or start line names, or None for any other line."""
    head = message[:400]
    if not _DEPLOY_VERB.search(head):
        return None
    m = _DEPLOY_VERSION.search(head)
    return m.group(1)[:128] if m else None


class ExceptionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_EXCEPTIONS_")

    in_app: dict[str, list[str]] = {}          # service -> patterns that make a frame the service's own
    not_in_app: dict[str, list[str]] = {}      # service -> patterns that make it a library's

    def rules_for(self, service: str) -> InAppRules:
        if service not in self.in_app and service not in self.not_in_app:
            return DEFAULT_RULES
        return InAppRules(tuple(self.in_app.get(service, ())), tuple(self.not_in_app.get(service, ())))


@dataclass(frozen=True)
class ClusterChange:
    """A cluster that a write made new or regressed: the detector's signal."""

    cluster_id: int
    service: str
    change: str                                # new | regressed
    exception_type: str


def analyse(record: Record, settings: ExceptionSettings | None = None) -> ParsedException | None:
    """The exception a record's text holds, if it is a stack trace with frames."""
    if "\n" not in record.message:
        return None
    return parse(record.message, (settings or ExceptionSettings()).rules_for(record.service))


def logged_version(meta: dict | None) -> str | None:
    """The version an event's meta names, if any (same keys as retrieval/code_map)."""
    for key in VERSION_KEYS:
        value = (meta or {}).get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()[:128]
    return None


def _record_deploys(cur, found: list[tuple[str, str, object, str]]) -> None:
    """Keep a deploy line's version only where it changes what (service, host) runs, so a
    service that names its version on every line adds a row per release, not per line."""
    rows, last = [], {}
    for service, host, ts, version in sorted(found, key=lambda row: row[2]):
        key = (service, host)
        if key not in last:
            last[key] = deploy_versions.running(cur, service, host, ts)
        if version != last[key]:
            rows.append((service, host, ts, version))
            last[key] = version
    deploy_versions.record(cur, rows)


def write(cur, records: list[Record], hashes: list[bytes], parsed: list[ParsedException | None],
          templates: list[Template], inserted: set[bytes]) -> list[ClusterChange]:
    """Cluster the exception events this transaction inserted; the clusters made new or
    regressed. A cluster's message template is its exception line's, canonicalized."""
    _record_deploys(cur, [(r.service, r.host, r.ts, v) for r, h in zip(records, hashes)
                          if h in inserted and (v := deploy_version(r.message))])
    todo = [(r, h, p, t) for r, h, p, t in zip(records, hashes, parsed, templates) if p is not None and h in inserted]
    if not todo:
        return []
    ids = sql.event_ids(cur, [h for _, h, _, _ in todo])
    hits: dict[tuple[str, str], sql.ClusterHit] = {}
    keyed = []
    for record, digest, exc, template in todo:
        key = (record.service, exc.fingerprint())
        keyed.append((key, record, ids[digest], exc))
        hit = hits.get(key)
        if hit is None:
            hits[key] = sql.ClusterHit(record.service, key[1], exc.type, template_for(exc.headline).template,
                                       record.ts, record.ts, 1, ids[digest])
        else:
            hit.count += 1
            if record.ts < hit.first:
                hit.first, hit.representative_event_id = record.ts, ids[digest]
            hit.last = max(hit.last, record.ts)
    clusters = sql.upsert_clusters(cur, list(hits.values()))
    events, frames, minutes = [], [], {}
    for key, record, event_id, exc in keyed:
        cluster_id = clusters[key][0]
        version = logged_version(record.meta) or deploy_versions.running(cur, record.service, record.host, record.ts)
        events.append((event_id, cluster_id, record.ts, record.host, version, exc.type[:255], exc.message[:60_000]))
        for s, section in enumerate(exc.sections):
            frames.extend((event_id, s, p, section.type[:255], f.file[:1024], f.function[:512], f.line,
                           f.module[:512], f.in_app) for p, f in enumerate(section.frames))
        bucket = (cluster_id, record.ts.replace(second=0, microsecond=0))
        minutes[bucket] = minutes.get(bucket, 0) + 1
    sql.add_events(cur, events)
    sql.add_frames(cur, frames)
    sql.add_counts(cur, [(*k, n) for k, n in minutes.items()])
    return [ClusterChange(cid, key[0], change, hits[key].exception_type)
            for key, (cid, change) in clusters.items() if change]
