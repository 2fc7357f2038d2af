"""The request bodies of the receivers, as OpenAPI documents them.

The receivers read their bodies themselves (a bad record is rejected alone, so the body is
never validated whole), which leaves FastAPI nothing to describe; these schemas put the
wire formats in /openapi.json so clients, and schema-driven fuzzers, can see them.
"""
from __future__ import annotations

_STR = {"type": "string"}
_LABELS = {"type": "object", "additionalProperties": _STR}

WIRE_RECORD = {
    "type": "object", "required": ["timestamp", "host", "service", "message"],
    "properties": {
        "timestamp": {"anyOf": [_STR, {"type": "number"}], "description": "ISO 8601 or epoch s/ms/us/ns"},
        "host": {"type": "string", "maxLength": 128}, "service": {"type": "string", "maxLength": 128},
        "message": _STR, "level": {"anyOf": [_STR, {"type": "integer", "minimum": 0, "maximum": 7}]},
        "source": {"type": "string", "maxLength": 64}, "trace_id": {"type": "string", "maxLength": 64},
        "span_id": {"type": "string", "maxLength": 32}, "event_type": {"type": "string", "maxLength": 64},
        "error_code": {"type": "string", "maxLength": 64}, "meta": {"type": "object"}},
}
LOG_BATCH = {"type": "object", "required": ["logs"],
             "properties": {"logs": {"type": "array", "items": WIRE_RECORD}}}

LOKI_PUSH = {"type": "object", "required": ["streams"], "properties": {"streams": {"type": "array", "items": {
    "type": "object", "required": ["stream", "values"], "properties": {
        "stream": _LABELS,
        "values": {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 3,
                                              "prefixItems": [{"type": "string", "pattern": "^[0-9]+$"}, _STR, _LABELS]}}}}}}}

_ANY_VALUE = {"type": "object", "properties": {"stringValue": _STR, "intValue": {"anyOf": [_STR, {"type": "integer"}]},
                                               "doubleValue": {"type": "number"}, "boolValue": {"type": "boolean"}}}
_KEY_VALUES = {"type": "array", "items": {"type": "object", "required": ["key", "value"],
                                          "properties": {"key": _STR, "value": _ANY_VALUE}}}
OTLP_LOGS = {"type": "object", "properties": {"resourceLogs": {"type": "array", "items": {
    "type": "object", "properties": {
        "resource": {"type": "object", "properties": {"attributes": _KEY_VALUES}},
        "scopeLogs": {"type": "array", "items": {"type": "object", "properties": {"logRecords": {
            "type": "array", "items": {"type": "object", "properties": {
                "timeUnixNano": _STR, "observedTimeUnixNano": _STR, "severityNumber": {"type": "integer"},
                "severityText": _STR, "body": _ANY_VALUE, "traceId": _STR, "spanId": _STR,
                "attributes": _KEY_VALUES}}}}}}}}}}}

ALERTMANAGER = {"type": "object", "required": ["alerts"], "properties": {
    "version": _STR, "status": _STR, "receiver": _STR, "groupLabels": _LABELS, "commonLabels": _LABELS,
    "commonAnnotations": _LABELS, "externalURL": _STR,
    "alerts": {"type": "array", "items": {"type": "object", "required": ["status"], "properties": {
        "status": {"enum": ["firing", "resolved"]}, "labels": _LABELS, "annotations": _LABELS,
        "startsAt": _STR, "endsAt": _STR, "generatorURL": _STR, "fingerprint": _STR}}}}}


def body(schema: dict, *binary: str) -> dict:
    """`openapi_extra` for a route that reads this JSON body (and the binary content types)."""
    content = {"application/json": {"schema": schema}}
    content.update({kind: {"schema": {"type": "string", "format": "binary"}} for kind in binary})
    return {"requestBody": {"required": True, "content": content}}
