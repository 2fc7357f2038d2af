"""Catastrophic primitives: template patterns that mean trouble whatever the baseline says.

Patterns match the canonical template text (variables already masked), case-insensitive.
Each has a severity and the first things an SRE would do. Masking hides numbers (an NVIDIA
Xid's code, `CUDA0` in a buffer name), so GPU entries match the words the driver and
runtimes write beside them; each failure matches one entry (lookaheads keep an OOM out of the
generic CUDA entry and a lost GPU out of the generic Xid one).
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Primitive:
    name: str
    pattern: re.Pattern
    severity: str
    actions: tuple[str, ...]


def _p(name: str, pattern: str, severity: str, *actions: str) -> Primitive:
    return Primitive(name, re.compile(pattern, re.I), severity, actions)


CATALOGUE: tuple[Primitive, ...] = (
    _p("oom_kill", r"out of memory: kill|oom-kill|invoked oom-killer|memory cgroup out of memory|oomkilled",
       "critical", "Find the process that grew (`journalctl -k | grep -i oom`) and its memory limit",
       "Raise the limit or the host's memory, or cap the offender (MemoryMax=)"),
    _p("disk_full", r"no space left on device|disk full|filesystem is full|enospc", "critical",
       "Free space on the affected filesystem (`df -h`, `du -xsh /var/* | sort -h`)",
       "Rotate or prune logs, binlogs and old backups; then restart what failed"),
    _p("connection_refused", r"connection refused|econnrefused", "error",
       "Check that the target service is running and listening (`ss -ltnp`)",
       "Check firewalls and the address/port the caller uses"),
    _p("segfault", r"segfault at|segmentation fault|sigsegv", "critical",
       "Collect the core dump (`coredumpctl list`) and the exact binary version",
       "Roll back the last deploy of that binary if it is new"),
    _p("kernel_panic", r"kernel bug at|kernel panic|bug: unable to handle|general protection fault|"
       r"soft lockup|hard lockup|call trace", "critical",
       "Read the full kernel log around the trace (`journalctl -k -b -1`)",
       "Check hardware (memory, disks) and recent kernel/driver updates"),
    _p("read_only_fs", r"read-only file system|remounting filesystem read-only|erofs", "critical",
       "Check the filesystem and its device for errors (`dmesg`, `smartctl -a`)",
       "Fix the underlying disk, fsck, remount read-write"),
    _p("cert_expired", r"certificate has expired|certificate expired|certificate is not yet valid|"
       r"x509: certificate", "error",
       "Check the certificate's dates (`openssl s_client -connect host:port | openssl x509 -noout -dates`)",
       "Renew and reload it; check the renewal timer/cron"),
)
GPU_CATALOGUE: tuple[Primitive, ...] = (
    _p("gpu_lost", r"fallen off the bus|gpu is lost|uncorrectable (?:double bit|ecc) error|double bit error \(dbe\)|"
       r"uncontained ecc error|row remapping failure", "critical",
       "Check whether the GPU still answers (`nvidia-smi`; `nvidia-smi -q -d ECC,PERFORMANCE`) and read the Xid "
       "codes (`journalctl -k | grep -i xid`: 79 fell off the bus, 48/94/95 ECC)",
       "Stop its users (`systemctl stop ollama`), reset or reload the driver (`nvidia-smi -r -i N`, or "
       "`rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && modprobe nvidia`), else reboot the node",
       "If it recurs: check power, cooling and seating (`nvidia-smi -q -d TEMPERATURE,POWER`); drain the node"),
    _p("gpu_xid", r"nvrm: xid(?!.*(?:fallen off the bus|uncorrectable|uncontained|double bit))", "error",
       "Read the Xid code and its process (`journalctl -k | grep -i xid`; 13/31/43: the application faulted, "
       "others: driver or hardware)",
       "Check the GPU and what runs on it (`nvidia-smi`); restart the faulting process"),
    _p("gpu_driver", r"driver/library version mismatch|nvrm: api mismatch|couldn't communicate with the nvidia driver|"
       r"failed to initialize nvml|cuda driver version is insufficient|no cuda-capable device is detected|"
       r"cuda_error_no_device|cudaerrornodevice|cudaerrorinsufficientdriver", "critical",
       "Compare the loaded and installed driver (`cat /proc/driver/nvidia/version`, `modinfo nvidia | grep ^version`, "
       "`dkms status`); `nvidia-smi`",
       "After a driver upgrade: reload the modules or reboot; else reinstall the driver for the running kernel"),
    _p("gpu_oom", r"cuda out of memory|cuda error:? out of memory|cudamalloc failed: out of memory|"
       r"cudaerrormemoryallocation|cublas_status_alloc_failed|cuda_error_out_of_memory|"
       r"ggml_\w+: failed to allocate|unable to allocate \S+ buffer", "error",
       "See what holds the VRAM (`nvidia-smi --query-gpu=memory.used,memory.total --format=csv`, `ollama ps`)",
       "Unload or shrink models (`ollama stop MODEL`, a smaller quantization or num_ctx, OLLAMA_MAX_LOADED_MODELS=1, "
       "OLLAMA_NUM_PARALLEL=1), then retry"),
    _p("cuda_error", r"cuda error(?!:? out of memory)|cudaerror(?!memoryallocation|nodevice|insufficientdriver)[a-z]+|"
       r"cublas_status_(?!success|alloc_failed)[a-z_]+|cudnn_status_(?!success)[a-z_]+|"
       r"cuda_error_(?!out_of_memory|no_device)[a-z_]+|illegal memory access|unspecified launch failure|"
       r"ggml_cuda\w*: .*\b(?:failed|error)", "error",
       "Look for an Xid at the same moment (`journalctl -k | grep -i xid`) and check the GPU (`nvidia-smi`)",
       "Restart the process that failed; if it recurs on one node, reset the GPU or reboot and drain it"),
    _p("llm_runner", r"llama runner process (?:has terminated|no longer running)|error loading llama server|"
       r"error loading model|failed to load model|llama_model_load: error|"
       r"model requires more system memory|vram usage didn't recover", "error",
       "See what is loaded and where (`ollama ps`; `journalctl -u ollama -n 200`); check VRAM (`nvidia-smi`)",
       "Re-pull a corrupt or partial model (`ollama pull MODEL`), use a smaller one or quantization, and restart "
       "the runner (`systemctl restart ollama`)"),
)
CATALOGUE = CATALOGUE + GPU_CATALOGUE
RESTART = re.compile(r"scheduled restart job|main process exited|start request repeated too quickly|"
                     r"failed with result|started |stopped |deactivated successfully", re.I)


def match(template: str) -> list[Primitive]:
    return [p for p in CATALOGUE if p.pattern.search(template)]


def actions_for(names: set[str]) -> list[str]:
    return [a for p in CATALOGUE if p.name in names for a in p.actions]
