"""A ceiling on request bodies for every route that does not read its own (the receivers do,
with DEVMESH_INGEST_MAX_BODY_BYTES): /chat and /incidents took 64 MiB before (issue 15).

Pure ASGI: a declared Content-Length over the limit is answered 413 at once; a chunked body
is counted as it arrives and cut off at the limit with the same 413.
"""
from __future__ import annotations

import json

# the receivers: they read their own bodies with their own limit (graphs/auth.py: the ingest scope)
RECEIVERS = frozenset({"/ingest/logs", "/loki/api/v1/push", "/v1/logs", "/alerts/alertmanager", "/upload"})


def path_token(path: str) -> str | None:
    """The token of `/journal/TOKEN/upload` (systemd-journal-upload sends no header)."""
    parts = path.split("/")
    if len(parts) == 4 and parts[0] == "" and parts[1] == "journal" and parts[3] == "upload" and parts[2]:
        return parts[2]
    return None


def is_receiver(path: str) -> bool:
    return path in RECEIVERS or path_token(path) is not None


def _body(limit: int) -> bytes:
    return json.dumps({"error": {"code": "payload_too_large", "message": f"request body exceeds {limit} bytes",
                                 "detail": "send a smaller body (DEVMESH_MAX_BODY_BYTES)"}}).encode()


class BodyLimit:
    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def _refuse(self, send) -> None:
        payload = _body(self.limit)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_receiver(scope.get("path") or ""):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0
        refused = False

        async def counted():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:                 # answer now; the app sees the client leave
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message):
            if not refused:                           # after a 413, nothing else goes out
                await send(message)
        await self.app(scope, counted, guarded)
