"""OTLP/HTTP logs (`POST /v1/logs`): protobuf, as the OpenTelemetry SDK exporters send it, and
JSON (hex trace/span ids, integer enums, int64 as strings) -> ingest records.

Resource attributes `service.name` and `host.name` give service and host (no `host.name`:
`k8s.node.name`, the node a Kubernetes pod runs on, then `host.id`); severityNumber
(or severityText) the level; the body (any value) the message; trace and span ids are kept.
"""
from __future__ import annotations

import json

SEVERITY = [(1, "debug"), (5, "debug"), (9, "info"), (13, "warning"), (17, "error"), (21, "critical")]


class OtlpError(ValueError):
    pass


def _level(number: int, text: str | None) -> str | None:
    if number:
        level = None
        for floor, name in SEVERITY:
            if number >= floor:
                level = name
        return level
    return text or None


def _any_json(value: dict):
    """An OTLP/JSON AnyValue -> Python."""
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_any_json(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attrs_json(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _attrs_json(items) -> dict:
    return {kv["key"]: _any_json(kv.get("value", {})) for kv in items or [] if isinstance(kv, dict) and "key" in kv}


def _record(resource: dict, ns: int, number: int, text: str | None, body, trace: str, span: str, attrs: dict) -> dict:
    message = body if isinstance(body, str) else json.dumps(body, default=str)
    host = resource.get("host.name") or resource.get("k8s.node.name") or resource.get("host.id") or "unknown"
    record = {"timestamp": ns or None, "host": str(host),
              "service": str(resource.get("service.name") or "unknown"), "message": message, "source": "otlp",
              "meta": {"attributes": attrs, "resource": resource} if attrs or resource else None}
    level = _level(number, text)
    if level:
        record["level"] = level
    if trace and trace.strip("0"):
        record["trace_id"] = trace
    if span and span.strip("0"):
        record["span_id"] = span
    return record


_UNREADABLE = (ValueError, TypeError, AttributeError, KeyError, RecursionError)


def from_json(payload) -> tuple[list[dict], list[str]]:
    """(records, problems): a log record whose fields have the wrong types is one problem
    (answered in partialSuccess), never the whole request."""
    if not isinstance(payload, dict) or not isinstance(payload.get("resourceLogs", []), list):
        raise OtlpError('expected {"resourceLogs": [{"resource": {...}, "scopeLogs": [{"logRecords": [...]}]}]}')
    records, problems = [], []
    for i, resource_logs in enumerate(payload.get("resourceLogs", [])):
        try:
            resource = _attrs_json((resource_logs.get("resource") or {}).get("attributes"))
            scopes = list(resource_logs.get("scopeLogs", []) or [])
        except _UNREADABLE as exc:
            problems.append(f"resourceLogs {i}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        for scope_logs in scopes:
            logs = scope_logs.get("logRecords", []) if isinstance(scope_logs, dict) else None
            for log in logs if isinstance(logs, list) else []:
                try:
                    ns = int(log.get("timeUnixNano") or log.get("observedTimeUnixNano") or 0)
                    records.append(_record(resource, ns, int(log.get("severityNumber") or 0),
                                           log.get("severityText"), _any_json(log.get("body") or {}),
                                           str(log.get("traceId", "")), str(log.get("spanId", "")),
                                           _attrs_json(log.get("attributes"))))
                except _UNREADABLE as exc:
                    problems.append(f"log record: {type(exc).__name__}: {str(exc)[:120]}")
    return records, problems


def _any_pb(value):
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_pb(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_pb(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def from_protobuf(body: bytes) -> list[dict]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpError(f"not an OTLP ExportLogsServiceRequest (protobuf): {exc}") from None
    records = []
    for resource_logs in request.resource_logs:
        resource = {kv.key: _any_pb(kv.value) for kv in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                records.append(_record(resource, log.time_unix_nano or log.observed_time_unix_nano,
                                       log.severity_number, log.severity_text or None, _any_pb(log.body),
                                       log.trace_id.hex(), log.span_id.hex(),
                                       {kv.key: _any_pb(kv.value) for kv in log.attributes}))
    return records


def response(rejected: int, message: str, as_json: bool) -> tuple[bytes, str]:
    """ExportLogsServiceResponse, with partial_success when records were rejected."""
    if as_json:
        body = {"partialSuccess": {"rejectedLogRecords": str(rejected), "errorMessage": message}} if rejected else {}
        return json.dumps(body).encode(), "application/json"
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    out = ExportLogsServiceResponse()
    if rejected:
        out.partial_success.rejected_log_records = rejected
        out.partial_success.error_message = message
    return out.SerializeToString(), "application/x-protobuf"
