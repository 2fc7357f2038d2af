"""The faults: how each changes the stack before it starts, and how it is injected and undone.

| fault        | how                                                                        |
|--------------|----------------------------------------------------------------------------|
| cpu_hog      | the target alone on cpu 1 (taskset), everything else on cpu 0; stress-ng  |
|              | --cpu 4 at nice -10 pinned to cpu 1 for the fault (a runaway batch job)   |
| net_delay    | a TCP relay takes the target's address (the target listens on 127.0.2.N)  |
|              | and delays every chunk both ways (this kernel has no netem)               |
| net_loss     | nftables drops a share of the packets to and from the target's port       |
| sigstop      | SIGSTOP to the target's process group, SIGCONT after                       |
| disk_full    | the target's data dir is a small tmpfs; a file fills it                    |
| port_refused | the target is stopped (SIGTERM): its port refuses                          |
| code_raise   | a flag file the target checks turns on a code path that raises             |
"""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

from evals.lab.stack import LabError, Proc, Stack
from evals.lab.topology import SERVICES

NFT_TABLE = "devmesh_lab"
_TMPFS_MB = {"redis": 48, "mariadb": 400, "shop-web": 16, "fulfil-worker": 16}


@dataclass
class Fault:
    kind: str | None                 # None: a no-fault control
    target: str | None
    params: dict = field(default_factory=dict)

    # --- before the stack starts ---
    def stack_options(self) -> dict:
        if self.kind == "cpu_hog":
            pin = {name: "0" for name in SERVICES}
            pin.update({"loadgen": "0", "relay": "0", self.target: "1"})
            return {"pin": pin}
        if self.kind == "net_delay":
            return {"relay": self.target, "relay_delay_ms": self.params["delay_ms"]}
        if self.kind == "disk_full":
            return {"tmpfs": {self.target: _TMPFS_MB[self.target]}}
        return {}

    # --- during the recording ---
    def inject(self, stack: Stack) -> None:
        k, target = self.kind, self.target
        if k is None:
            return
        if k == "cpu_hog":
            stack._add(Proc("stress", ["nice", "-n", "-10", "stress-ng", "--cpu", str(self.params["workers"]), "--timeout",
                                       f"{int(self.params['timeout_s'])}s", "--quiet"], cpus="1",
                            stderr=stack.logs / "stress.out"))
        elif k == "net_delay":
            stack.procs["relay"].signal(signal.SIGUSR1)
        elif k == "net_loss":
            s = SERVICES[target]
            pct = int(self.params["loss_pct"])
            rules = (f"table inet {NFT_TABLE} {{\n chain out {{\n  type filter hook output priority 0; policy accept;\n"
                     f"  ip daddr {s.addr} tcp dport {s.port} numgen random mod 100 < {pct} drop\n"
                     f"  ip saddr {s.addr} tcp sport {s.port} numgen random mod 100 < {pct} drop\n }}\n}}\n")
            subprocess.run(["nft", "-f", "-"], input=rules.encode(), check=True)
        elif k == "sigstop":
            stack.procs[target].signal(signal.SIGSTOP)
        elif k == "disk_full":
            fill(stack.data_dir(target))
        elif k == "port_refused":
            proc = stack.procs[target]
            proc.signal(signal.SIGTERM)
            try:
                proc.p.wait(30)
            except subprocess.TimeoutExpired:
                proc.signal(signal.SIGKILL)
        elif k == "code_raise":
            (stack.flags / f"{target}.raise").touch()
        else:
            raise LabError(f"unknown fault {k}")

    def restore(self, stack: Stack) -> None:
        """Undo the fault (best effort; teardown follows)."""
        k = self.kind
        if k == "cpu_hog" and "stress" in stack.procs:
            stack.procs["stress"].stop()
        elif k == "net_delay" and "relay" in stack.procs:
            stack.procs["relay"].signal(signal.SIGUSR2)
        elif k == "sigstop":
            stack.procs[self.target].signal(signal.SIGCONT)
        elif k == "disk_full":
            try:
                os.unlink(stack.data_dir(self.target) / "fill.bin")
            except FileNotFoundError:
                pass
        elif k == "code_raise":
            (stack.flags / f"{self.target}.raise").unlink(missing_ok=True)
        remove_nft()


def remove_nft() -> None:
    out = subprocess.run(["nft", "list", "table", "inet", NFT_TABLE], capture_output=True)
    if out.returncode == 0:
        subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], check=False)


def nft_in_use() -> bool:
    return subprocess.run(["nft", "list", "table", "inet", NFT_TABLE], capture_output=True).returncode == 0


def fill(path) -> None:
    """Fill the file system under `path` to the last byte."""
    st = os.statvfs(path)
    target = path / "fill.bin"
    with open(target, "wb", buffering=0) as fh:
        free = st.f_bavail * st.f_frsize
        try:
            os.posix_fallocate(fh.fileno(), 0, max(free - 4096, 0))
        except OSError:
            pass
        fh.seek(0, os.SEEK_END)
        chunk = b"\0" * 4096
        try:
            while True:
                fh.write(chunk)
        except OSError:
            pass
