"""Loki's push API (what promtail, Grafana Alloy, Vector and Fluent Bit send) -> ingest records.

JSON: `{"streams": [{"stream": {labels}, "values": [["<ns>", "line", {metadata}?], ...]}]}`.
Protobuf: `PushRequest{streams: [StreamAdapter{labels: '{a="b"}', entries: [EntryAdapter{
timestamp{seconds, nanos}, line, structuredMetadata}]}]}`, snappy block-compressed (Loki reads
any content type but JSON as protobuf). Labels become host / service / level through a
configurable list of label names, first match wins; every label is kept in `meta.labels`.
"""
from __future__ import annotations

import json
import re

from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.protowire import ProtoError, fields


class LokiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVMESH_LOKI_")

    host_labels: str = "host,hostname,instance,nodename,node"
    service_labels: str = "service_name,service,app,application,job,unit,container,component"
    level_labels: str = "level,detected_level,severity,lvl"

    def names(self, which: str) -> list[str]:
        return [n.strip() for n in getattr(self, f"{which}_labels").split(",") if n.strip()]


class PushError(ValueError):
    """The whole push is unreadable."""


_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_labels(text: str) -> dict[str, str]:
    """`{job="api",host="a"}` -> dict; raises ValueError when it is not a label set."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"labels {text!r} are not a Prometheus label set")
    body, out, pos = body[1:-1], {}, 0
    while pos < len(body):
        m = _LABEL.match(body, pos)
        if not m:
            raise ValueError(f"cannot read labels {text!r} at position {pos}")
        out[m.group(1)] = json.loads(f'"{m.group(2)}"')
        pos = m.end()
    return out


def _record(labels: dict[str, str], ns: int, line: str, metadata: dict, settings: LokiSettings) -> dict:
    def pick(which):
        return next((labels[n] for n in settings.names(which) if labels.get(n)), None)
    record = {"timestamp": ns, "host": pick("host") or "unknown", "service": pick("service") or "unknown",
              "message": line, "source": "loki", "meta": {"labels": labels}}
    level = pick("level")
    if level:
        record["level"] = level
    if metadata:
        record["meta"]["metadata"] = metadata
        for key in ("trace_id", "traceID", "traceid"):
            if metadata.get(key):
                record["trace_id"] = metadata[key]
        if metadata.get("span_id"):
            record["span_id"] = metadata["span_id"]
    return record


def from_json(payload, settings: LokiSettings) -> tuple[list[dict], list[str]]:
    """(records, problems): a stream that cannot be read is skipped and named in problems."""
    if not isinstance(payload, dict) or not isinstance(payload.get("streams"), list):
        raise PushError('expected {"streams": [{"stream": {...}, "values": [["<unix ns>", "line"], ...]}]}')
    records, problems = [], []
    for i, stream in enumerate(payload["streams"]):
        try:
            labels = stream.get("stream") if isinstance(stream, dict) else None
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                raise ValueError("'stream' must be an object of string labels")
            values = stream.get("values")
            if not isinstance(values, list):
                raise ValueError("'values' must be a list of [\"<unix ns>\", \"line\"] pairs")
            batch = []
            for value in values:
                if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[0], str) \
                        or not value[0].isdigit() or not isinstance(value[1], str):
                    raise ValueError(f"entry {value!r} is not [\"<unix ns as a string>\", \"line\", {{metadata}}?]")
                batch.append(_record(labels, int(value[0]), value[1], value[2] if len(value) == 3 else {}, settings))
            records += batch
        except (ValueError, AttributeError) as exc:
            problems.append(f"stream {i}: {exc}")
    return records, problems


def from_protobuf(body: bytes, settings: LokiSettings) -> tuple[list[dict], list[str]]:
    records, problems = [], []
    try:
        streams = [value for number, wire, value in fields(body) if number == 1 and wire == 2]
    except ProtoError as exc:
        raise PushError(f"not a Loki PushRequest (protobuf): {exc}") from None
    for i, raw in enumerate(streams):
        try:
            labels_text, entries = "", []
            for number, wire, value in fields(raw):
                if number == 1 and wire == 2:
                    labels_text = value.decode("utf-8")
                elif number == 2 and wire == 2:
                    entries.append(value)
            labels = parse_labels(labels_text)
            for entry in entries:
                seconds = nanos = 0
                line, metadata = "", {}
                for number, wire, value in fields(entry):
                    if number == 1 and wire == 2:
                        for n, _w, v in fields(value):
                            if n == 1:
                                seconds = v
                            elif n == 2:
                                nanos = v
                    elif number == 2 and wire == 2:
                        line = value.decode("utf-8", "replace")
                    elif number == 3 and wire == 2:
                        pair = {n: v.decode("utf-8", "replace") for n, _w, v in fields(value)}
                        metadata[pair.get(1, "")] = pair.get(2, "")
                records.append(_record(labels, seconds * 1_000_000_000 + nanos, line, metadata, settings))
        except (ProtoError, ValueError, UnicodeDecodeError) as exc:
            problems.append(f"stream {i}: {exc}")
    return records, problems
