"""HTTP: POST /ingest/logs (DESIGN section 3). Limits -> 413, bad JSON -> 400, per-record
rejects in the body; the blocking write runs in the thread pool."""
from __future__ import annotations

import json
import zlib

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["ingest"])


def fail(status: int, code: str, message: str, detail=None) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message, "detail": detail})


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress gzip with a ceiling, so a small bomb cannot expand past the body limit."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise fail(400, "bad_gzip", f"Content-Encoding is gzip but the body is not valid gzip ({exc})")
    if len(out) > limit or inflater.unconsumed_tail:
        raise fail(413, "payload_too_large", f"decompressed body exceeds {limit} bytes; send smaller batches")
    return out


async def read_json_body(request: Request, limit: int):
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise fail(413, "payload_too_large", f"body of {declared} bytes exceeds {limit}; send smaller batches")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise fail(413, "payload_too_large", f"body exceeds {limit} bytes; send smaller batches")
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding == "gzip":
        body = _gunzip(bytes(body), limit)
    elif encoding not in ("", "identity"):
        raise fail(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(400, "invalid_json", f"body is not valid JSON: {exc}")


@router.post("/ingest/logs")
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
    return result.as_response()
