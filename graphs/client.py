"""What every client command (one that talks to a running server: chat, demo, incidents
show/ack/resolve/snooze, event) shares: `--url` / `--token` and one HTTP client whose
failures are one line that says what to do.

`--url` reads DEVMESH_URL (default http://127.0.0.1:8000); `--token` reads DEVMESH_TOKEN,
then the command's older variable (DEVMESH_CHAT_TOKEN, DEVMESH_DEMO_TOKEN). Light on
purpose: httpx is imported when a request is made, so `devmesh chat --help` starts at once.
"""
from __future__ import annotations

import click

DEFAULT_URL = "http://127.0.0.1:8000"


class ServerError(click.ClickException):
    """The server answered with an error (its `{"error": {"code", "message"}}` in one line),
    or there is no server at the URL; exit status 1."""


def server_options(*fallback_envvars: str):
    """`--url` and `--token` on a click command (passed as `url` and `token`)."""
    def decorate(fn):
        fn = click.option("--token", default=None, envvar=["DEVMESH_TOKEN", *fallback_envvars], show_envvar=True,
                          help="bearer token, if the server wants one")(fn)
        return click.option("--url", default=DEFAULT_URL, envvar="DEVMESH_URL", show_default=True, show_envvar=True,
                            help="the running DevMesh server")(fn)
    return decorate


def headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def unreachable(url: str, exc: Exception) -> ServerError:
    return ServerError(f"no DevMesh server answers at {url} ({type(exc).__name__}: {exc}); start one with "
                       "`make run` (or `devmesh serve`), or point --url / DEVMESH_URL at yours")


def explain(url: str, status: int, body: bytes) -> ServerError:
    """One line from an error answer: our `{"error": {...}}`, FastAPI's `{"detail": ...}`, or text."""
    import json

    try:
        data = json.loads(body)
    except ValueError:
        data = None
    err = (data.get("error") or data.get("detail")) if isinstance(data, dict) else None
    if isinstance(err, dict) and err.get("message"):
        text = f"{err.get('code', 'error')}: {err['message']}"
    else:
        text = (str(err) if err else body[:300].decode(errors="replace")) or "(no body)"
    hint = " (pass --token or set DEVMESH_TOKEN)" if status in (401, 403) else ""
    return ServerError(f"{url} answered {status}: {text}{hint}")


class Client:
    """Requests to one server; an error answer or a dead server raises ServerError."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 30.0):
        import httpx

        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers(token), timeout=timeout_s)

    def request(self, method: str, path: str, **kwargs) -> dict:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.url, exc) from None
        if response.status_code >= 400:
            raise explain(self.url, response.status_code, response.content)
        try:
            return response.json()
        except ValueError:
            raise ServerError(f"{self.url}{path} did not answer JSON: is --url a DevMesh server?") from None

    def get(self, path: str, **kwargs) -> dict:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> dict:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sse_events(response):
    """The (event, data) pairs of a server-sent event stream (an httpx streaming response),
    data parsed as JSON; an `error` event is yielded like any other."""
    import json

    event = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event:
            yield event, json.loads(line.split(":", 1)[1])
