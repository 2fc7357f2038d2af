"""The Kubernetes API, read with plain httpx: where it is and who we are (the pod's service
account, or a kubeconfig file), the lists the topology needs, and a watch on each of them.

Credentials, first found wins:
- `DEVMESH_K8S_KUBECONFIG`: a kubeconfig file (its current-context, or
  `DEVMESH_K8S_CONTEXT`): the cluster's `server`, `certificate-authority(-data)` or
  `insecure-skip-tls-verify`; the user's `token`, `tokenFile` or
  `client-certificate(-data)` + `client-key(-data)`. `exec` and `auth-provider` users are
  refused with a message (no plugin runs inside DevMesh).
- in-cluster (`DEVMESH_K8S_IN_CLUSTER=auto`: when `KUBERNETES_SERVICE_HOST` is set and the
  service account's token exists): https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
  the CA and token under /var/run/secrets/kubernetes.io/serviceaccount (the token is read
  again on every refresh: bound tokens rotate).
Neither: Kubernetes is off. Every failure is a `KubeError` whose message says what to fix.
"""
from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx
import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
LISTS = {                                 # what the topology reads (cluster-wide lists), each also watched
    "namespaces": "/api/v1/namespaces", "nodes": "/api/v1/nodes", "pods": "/api/v1/pods",
    "services": "/api/v1/services",
    "deployments": "/apis/apps/v1/deployments", "replicasets": "/apis/apps/v1/replicasets",
    "statefulsets": "/apis/apps/v1/statefulsets", "daemonsets": "/apis/apps/v1/daemonsets",
}
PAGE = 500                                # items per request; the server's `continue` token pages on


class KubeSettings(BaseSettings):
    """Where the cluster is and how often its topology is read."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_K8S_")

    kubeconfig: Path | None = None        # a kubeconfig file; else in-cluster; else off
    context: str | None = None            # the kubeconfig context (default: its current-context)
    in_cluster: str = "auto"              # auto | true | false
    serviceaccount_dir: Path = SERVICE_ACCOUNT
    refresh_s: float = 60.0               # how often every list is read again (0 = only at start)
    watch: bool = True                    # follow every list's changes between the reads (a watch from its version)
    watch_s: float = 300.0                # how long one watch request lasts before it is made again
    watch_debounce_s: float = 0.5         # a burst of watch events is written to the graph once
    timeout_s: float = 10.0


class KubeError(RuntimeError):
    """The API could not be read; the message names the cause and the fix."""


class KubeGone(KubeError):
    """410 Gone: the resourceVersion (or a list's `continue` token) is too old; list again."""


@dataclass
class Credentials:
    server: str                           # https://host:port, no trailing slash
    source: str                           # "in-cluster" or the kubeconfig path
    verify: ssl.SSLContext | bool = True
    token_file: Path | None = None        # read at each refresh
    token: str | None = None
    headers: dict = field(default_factory=dict)

    def bearer(self) -> str | None:
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip()
            except OSError as exc:
                raise KubeError(f"cannot read the service account token {self.token_file}: {exc.strerror}") from exc
        return self.token


def _tls(ca_file: str | None = None, ca_data: bytes | None = None, cert: bytes | None = None,
         key: bytes | None = None, cert_file: str | None = None, key_file: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file, cadata=ca_data.decode() if ca_data else None)
    if cert is not None or cert_file is not None:
        with tempfile.TemporaryDirectory() as tmp:       # the ssl module loads a key pair from files only
            if cert is not None:
                cert_file, key_file = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
                Path(cert_file).write_bytes(cert)
                Path(key_file).write_bytes(key or b"")
                os.chmod(key_file, 0o600)
            context.load_cert_chain(cert_file, key_file)
    return context


def _data(entry: dict, key: str) -> bytes | None:
    value = entry.get(f"{key}-data")
    return base64.b64decode(value) if value else None


def from_kubeconfig(path: Path, context_name: str | None = None) -> Credentials:
    path = Path(path).expanduser()
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise KubeError(f"DEVMESH_K8S_KUBECONFIG={path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KubeError(f"DEVMESH_K8S_KUBECONFIG={path} is not YAML ({str(exc)[:120]})") from exc
    if not isinstance(doc, dict):
        raise KubeError(f"{path}: not a kubeconfig (expected apiVersion: v1, kind: Config)")
    name = context_name or doc.get("current-context")

    def pick(section: str, wanted: str | None) -> dict:
        for item in doc.get(section) or []:
            if isinstance(item, dict) and item.get("name") == wanted:
                return item.get(section[:-1]) or {}
        raise KubeError(f"{path}: no {section[:-1]} named {wanted!r}; set DEVMESH_K8S_CONTEXT or the "
                        "file's current-context to one of its contexts")

    ctx = pick("contexts", name)
    cluster, user = pick("clusters", ctx.get("cluster")), pick("users", ctx.get("user"))
    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise KubeError(f"{path}: cluster {ctx.get('cluster')!r} has no https:// server")
    if "exec" in user or "auth-provider" in user:
        raise KubeError(f"{path}: user {ctx.get('user')!r} logs in through an exec/auth-provider plugin, which "
                        "DevMesh does not run; give it a service account token (`token:` or `tokenFile:`)")
    base = Path(path).parent

    def rel(value):
        return str(base / value) if value else None

    if cluster.get("insecure-skip-tls-verify"):
        verify: ssl.SSLContext | bool = False
        if user.get("client-certificate-data") or user.get("client-certificate"):
            verify = _tls(cert=_data(user, "client-certificate"), key=_data(user, "client-key"),
                          cert_file=rel(user.get("client-certificate")), key_file=rel(user.get("client-key")))
            verify.check_hostname, verify.verify_mode = False, ssl.CERT_NONE
    else:
        try:
            verify = _tls(rel(cluster.get("certificate-authority")), _data(cluster, "certificate-authority"),
                          _data(user, "client-certificate"), _data(user, "client-key"),
                          rel(user.get("client-certificate")), rel(user.get("client-key")))
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise KubeError(f"{path}: the cluster CA or the client certificate cannot be loaded ({exc})") from exc
    token_file = Path(rel(user["tokenFile"])) if user.get("tokenFile") else None
    return Credentials(server, str(path), verify, token_file, user.get("token"))


def in_cluster(directory: Path = SERVICE_ACCOUNT, environ=os.environ) -> Credentials:
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise KubeError("not in a pod: KUBERNETES_SERVICE_HOST is not set; set DEVMESH_K8S_KUBECONFIG instead")
    host = f"[{host}]" if ":" in host else host
    try:
        verify = _tls(str(directory / "ca.crt"))
    except (ssl.SSLError, OSError) as exc:
        raise KubeError(f"the service account's CA {directory / 'ca.crt'} cannot be loaded ({exc})") from exc
    return Credentials(f"https://{host}:{port}", "in-cluster", verify, directory / "token")


def credentials(settings: KubeSettings, environ=os.environ) -> Credentials | None:
    """The cluster to read, or None when Kubernetes is off (no kubeconfig, not in a pod)."""
    if settings.kubeconfig is not None:
        return from_kubeconfig(settings.kubeconfig, settings.context)
    mode = settings.in_cluster.strip().lower()
    if mode == "false" or (mode == "auto" and not (environ.get("KUBERNETES_SERVICE_HOST")
                                                   and (settings.serviceaccount_dir / "token").exists())):
        return None
    return in_cluster(settings.serviceaccount_dir, environ)


class KubeClient:
    """GET the cluster-wide lists (paged with `limit`/`continue`)."""

    def __init__(self, creds: Credentials, timeout_s: float = 10.0):
        self.creds, self.timeout_s = creds, timeout_s
        self._http = httpx.Client(base_url=creds.server, verify=creds.verify, timeout=timeout_s,
                                  headers={"Accept": "application/json", "User-Agent": "devmesh"})

    def list(self, path: str) -> tuple[list[dict], str | None]:
        """(items, the list's resourceVersion)."""
        items: list[dict] = []
        params: dict = {"limit": PAGE}
        version = None
        restarted = False
        while True:
            try:
                body = self._get(path, params)
            except KubeGone:
                if restarted or "continue" not in params:
                    raise
                items, params, version, restarted = [], {"limit": PAGE}, None, True   # the token expired: from the top
                continue
            items += [i for i in body.get("items") or [] if isinstance(i, dict)]
            meta = body.get("metadata") or {}
            version = version or meta.get("resourceVersion")
            if not meta.get("continue"):
                return items, version
            params = {"limit": PAGE, "continue": meta["continue"]}

    def snapshot(self) -> dict:
        """{"nodes": [...], "pods": [...], ..., "resource_versions": {list: version}}."""
        out: dict = {"resource_versions": {}}
        for name, path in LISTS.items():
            out[name], out["resource_versions"][name] = self.list(path)
        return out

    def watch(self, path: str, resource_version: str | None, seconds: float) -> Iterator[dict]:
        """The watch events ({type: ADDED | MODIFIED | DELETED | BOOKMARK | ERROR, object})
        after `resource_version`, until the server ends the watch (`timeoutSeconds`). A
        watch holds its connection for minutes, so each has its own client (watches of
        several lists run in parallel threads). Raises KubeGone on 410 Gone."""
        params = {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": str(max(1, int(seconds)))}
        if resource_version:
            params["resourceVersion"] = resource_version
        timeout = httpx.Timeout(self.timeout_s, read=seconds + 30)      # bookmarks come about once a minute
        http = httpx.Client(base_url=self.creds.server, verify=self.creds.verify, timeout=timeout,
                            headers={"Accept": "application/json", "User-Agent": "devmesh"})
        try:
            with http.stream("GET", path, params=params, headers=self._auth()) as response:
                if response.status_code != 200:
                    response.read()
                    self._check(response, path)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError as exc:
                        raise KubeError(f"the watch on {path} sent a line that is not JSON") from exc
                    if isinstance(event, dict) and isinstance(event.get("object"), dict):
                        yield event
        except httpx.TimeoutException as exc:
            raise self._timeout(path) from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        finally:
            http.close()

    def _auth(self) -> dict:
        token = self.creds.bearer()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _timeout(self, path: str) -> KubeError:
        return KubeError(f"the Kubernetes API at {self.creds.server} gave no answer within {self.timeout_s:g} s "
                         f"(GET {path}); is the server reachable from here?")

    def _unreachable(self, exc: Exception) -> KubeError:
        return KubeError(f"cannot reach the Kubernetes API at {self.creds.server} ({type(exc).__name__}: "
                         f"{str(exc)[:160]})")

    def _get(self, path: str, params: dict) -> dict:
        try:
            response = self._http.get(path, params=params, headers=self._auth())
        except httpx.TimeoutException as exc:
            raise self._timeout(path) from exc
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        self._check(response, path)
        try:
            body = response.json()
        except ValueError as exc:
            raise KubeError(f"GET {path} did not answer JSON; is {self.creds.server} a Kubernetes API server?") from exc
        if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
            raise KubeError(f"GET {path} did not answer a Kubernetes list (kind, metadata, items)")
        return body

    def _check(self, response: httpx.Response, path: str) -> None:
        where = f"{self.creds.server}{path}"
        if response.status_code == 401:
            raise KubeError(f"the Kubernetes API refused our credentials (401 Unauthorized on GET {where}); the "
                            f"token of {self.creds.source} is missing, expired or revoked")
        if response.status_code == 403:
            reason = _status_message(response)
            raise KubeError(f"the Kubernetes API forbids GET {path} (403: {reason}); bind the identity of "
                            f"{self.creds.source} to a ClusterRole with get/list/watch on namespaces, nodes, pods, "
                            "services and apps/v1 deployments, replicasets, statefulsets, daemonsets")
        if response.status_code == 410:
            raise KubeGone(f"the Kubernetes API answered 410 Gone on GET {path} ({_status_message(response)})")
        if response.status_code != 200:
            raise KubeError(f"the Kubernetes API answered {response.status_code} on GET {path} "
                            f"({_status_message(response)})")

    def close(self) -> None:
        self._http.close()


def _status_message(response: httpx.Response) -> str:
    """The API server's Status object's message, else the status text (never more than 200 characters)."""
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])[:200]
    except ValueError:
        pass
    return response.reason_phrase or "no reason given"
