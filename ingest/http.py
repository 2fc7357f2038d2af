"""HTTP: POST /ingest/logs (DESIGN section 3). Limits -> 413, bad JSON -> 400, per-record
rejects in the body; the blocking write runs in the thread pool."""
from __future__ import annotations

import json
import zlib

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ingest import wire_schema as wire

router = APIRouter(tags=["ingest"])


def fail(status: int, code: str, message: str, detail=None) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message, "detail": detail})


def _inflate(body: bytes, limit: int, encoding: str) -> bytes:
    """gzip or deflate with a ceiling: a small bomb stops at `limit` bytes of output (413)
    instead of inflating to gigabytes. Deflate is zlib-wrapped as HTTP says, or raw."""
    for wbits in ((16 + zlib.MAX_WBITS,) if encoding == "gzip" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)):
        inflater = zlib.decompressobj(wbits=wbits)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            error = exc
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise fail(413, "payload_too_large", f"decompressed body exceeds {limit} bytes; send smaller batches")
        return out
    raise fail(400, f"bad_{encoding}", f"Content-Encoding is {encoding} but the body is not valid {encoding} ({error})")


def unsnappy(body: bytes, limit: int) -> bytes:
    """Snappy block format (Loki's protobuf pushes), refused before decoding when its header
    says it would exceed `limit`."""
    import cramjam

    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception as exc:  # noqa: BLE001 - cramjam raises its own errors
        raise fail(400, "invalid_push", f"protobuf pushes are snappy block-compressed; this body is not ({exc})")
    if size > limit:
        raise fail(413, "payload_too_large", f"the snappy body would decode to {size} bytes, over {limit}")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # noqa: BLE001
        raise fail(400, "invalid_push", f"protobuf pushes are snappy block-compressed; this body is not ({exc})")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise fail(413, "payload_too_large", f"body of {declared} bytes exceeds {limit}; send smaller batches")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise fail(413, "payload_too_large", f"body exceeds {limit} bytes; send smaller batches")
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding in ("gzip", "deflate"):                      # CPU-heavy: off the event loop
        return await run_in_threadpool(_inflate, bytes(body), limit, encoding)
    if encoding not in ("", "identity", "snappy"):
        raise fail(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported")
    return bytes(body)


def parse_json(body: bytes):
    """The body as JSON, or 400: not UTF-8, not JSON, an integer of more than 4,300 digits
    (Python's limit), or nesting too deep to read (RecursionError) all say so."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:          # JSONDecodeError is a ValueError
        raise fail(400, "invalid_json", f"body is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise fail(400, "invalid_json", "body nests too deeply to read; flatten it") from None


async def read_json_body(request: Request, limit: int):
    return parse_json(await _read_body(request, limit))


@router.post("/ingest/logs", openapi_extra=wire.body(wire.LOG_BATCH))
async def ingest_logs(request: Request):
    """`{"logs": [...]}` -> `{"accepted", "duplicates", "rejected": [{"index", "error"}], "new_templates"}`."""
    ingestor = request.app.state.ingestor
    limits = ingestor.settings
    payload = await read_json_body(request, limits.max_body_bytes)
    if not isinstance(payload, dict) or not isinstance(payload.get("logs"), list):
        raise fail(400, "invalid_batch", 'expected a JSON object {"logs": [record, ...]}')
    records = payload["logs"]
    if len(records) > limits.max_records:
        raise fail(413, "too_many_records", f"{len(records)} records exceed the limit of {limits.max_records} "
                   "per request; split the batch")
    result = await run_in_threadpool(ingestor.ingest, records)
    request.app.state.metrics.ingested("http", result)
    return result.as_response()


@router.post("/loki/api/v1/push", status_code=204,
             openapi_extra=wire.body(wire.LOKI_PUSH, "application/x-protobuf"))
async def loki_push(request: Request):
    """Loki's push API, JSON or snappy protobuf (any non-JSON content type, as Loki does)."""
    from starlette.responses import Response

    from ingest.loki import PushError, from_json, from_protobuf

    state = request.app.state
    body = await _read_body(request, state.ingestor.settings.max_body_bytes)
    try:
        if "json" in request.headers.get("content-type", "").lower():
            records, problems = await run_in_threadpool(from_json, parse_json(body), state.settings.loki)
        else:
            raw = await run_in_threadpool(unsnappy, body, state.ingestor.settings.max_body_bytes)
            records, problems = await run_in_threadpool(from_protobuf, raw, state.settings.loki)
    except PushError as exc:
        raise fail(400, "invalid_push", str(exc))
    if problems and not records:
        raise fail(400, "invalid_push", "no stream could be read", problems)
    for start in range(0, len(records), state.ingestor.settings.max_records):
        result = await run_in_threadpool(state.ingestor.ingest, records[start:start + state.ingestor.settings.max_records])
        state.metrics.ingested("loki", result)
    if problems:
        state.metrics.rejected("loki_stream", len(problems))
    return Response(status_code=204)


@router.post("/v1/logs", openapi_extra=wire.body(wire.OTLP_LOGS, "application/x-protobuf"))
async def otlp_logs(request: Request):
    """OTLP/HTTP logs, protobuf or JSON; answers in the request's content type."""
    from starlette.responses import Response

    from ingest.otlp import OtlpError, from_json, from_protobuf, response

    state = request.app.state
    body = await _read_body(request, state.ingestor.settings.max_body_bytes)
    as_json = "json" in request.headers.get("content-type", "").lower()
    problems: list[str] = []
    try:
        if as_json:
            records, problems = await run_in_threadpool(from_json, parse_json(body))
        else:
            records = await run_in_threadpool(from_protobuf, body)      # pure-Python decoding: off the loop
    except (OtlpError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise fail(400, "invalid_otlp", str(exc)[:300] or "the OTLP body cannot be read")
    rejected, reasons = len(problems), problems[:3]
    for start in range(0, len(records), state.ingestor.settings.max_records):
        result = await run_in_threadpool(state.ingestor.ingest, records[start:start + state.ingestor.settings.max_records])
        state.metrics.ingested("otlp", result)
        rejected += len(result.rejected)
        reasons += [r["error"] for r in result.rejected[:3]]
    content, media = response(rejected, "; ".join(reasons[:3]), as_json)
    return Response(content, media_type=media)
