"""Issue 24 (2): GPU/driver and Ollama/llama.cpp failures in the catastrophic catalogue.

A GPU outage (an Xid on a node, then Ollama's CUDA errors) matched nothing in the catalogue,
so no catastrophic signal and no first actions. Each real line below is canonicalized as
ingest stores it, and its template must match exactly the expected entries; everyday lines
of the same software must match none.
"""
from __future__ import annotations

import pytest

from detectors.catalogue import GPU_CATALOGUE, actions_for, match
from ingest.canon import canonicalize

FAILURES = [
    ("NVRM: Xid (PCI:0000:01:00): 79, pid=1234, name=ollama, GPU has fallen off the bus.", {"gpu_lost"}),
    ("NVRM: GPU 0000:01:00.0: GPU has fallen off the bus.", {"gpu_lost"}),
    ("NVRM: Xid (PCI:0000:3b:00): 48, pid='<unknown>', name=<unknown>, An uncorrectable double bit error (DBE) "
     "has been detected on GPU in the framebuffer at partition 0, subpartition 0.", {"gpu_lost"}),
    ("NVRM: Xid (PCI:0000:01:00): 31, pid=2201, name=python3, Ch 00000010, intr 00000000. MMU Fault: ENGINE "
     "GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f3a_12340000. Fault is of type FAULT_PDE ACCESS_TYPE_VIRT_READ", {"gpu_xid"}),
    ("NVRM: Xid (PCI:0000:01:00): 43, pid=881, name=ollama_llama_se, Ch 00000008", {"gpu_xid"}),
    ("Failed to initialize NVML: Driver/library version mismatch", {"gpu_driver"}),
    ("NVRM: API mismatch: the client has the version 550.54.14, but this kernel module has the version 535.161.07.",
     {"gpu_driver"}),
    ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
     "NVIDIA driver is installed and running.", {"gpu_driver"}),
    ("RuntimeError: CUDA error: out of memory", {"gpu_oom"}),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
     "23.64 GiB of which 1.12 GiB is free.", {"gpu_oom"}),
    ("ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4096.00 MiB on device 0: cudaMalloc failed: out of memory",
     {"gpu_oom"}),
    ("ggml_gallocr_reserve_n: failed to allocate CUDA0 buffer of size 1073741824", {"gpu_oom"}),
    ("CUDA error: out of memory\n  current device: 0, in function ggml_cuda_pool_malloc at ggml-cuda.cu:123",
     {"gpu_oom"}),
    ("CUDA error: an illegal memory access was encountered", {"cuda_error"}),
    ("cudaErrorLaunchFailure: unspecified launch failure", {"cuda_error"}),
    ("RuntimeError: CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle, opa, opb, m, n, k, "
     "&alpha, a, lda, b, ldb, &beta, c, ldc)`", {"cuda_error"}),
    ("CUBLAS_STATUS_NOT_INITIALIZED", {"cuda_error"}),
    ("/go/src/github.com/ollama/ollama/llama/ggml-cuda.cu:2326: CUDA error", {"cuda_error"}),
    ("ggml_cuda_compute_forward: ADD failed", {"cuda_error"}),
    ("Error: llama runner process has terminated: exit status 2", {"llm_runner"}),
    ('time=2026-01-20T10:00:00.000Z level=ERROR source=sched.go:455 msg="error loading llama server" '
     'error="llama runner process has terminated: error loading model: unable to allocate CUDA0 buffer"',
     {"llm_runner", "gpu_oom"}),
    ("llama_model_load: error loading model: error loading model vocabulary: unknown pre-tokenizer type: 'qwen2'",
     {"llm_runner"}),
    ("llama_load_model_from_file: failed to load model", {"llm_runner"}),
    ("common_init_from_params: failed to load model '/models/qwen2.5-7b-instruct-q4_k_m.gguf'", {"llm_runner"}),
    ("Error: model requires more system memory (12.3 GiB) than is available (8.1 GiB)", {"llm_runner"}),
]
INNOCUOUS = [
    "NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024",
    "nvidia-persistenced: Started Persistence Daemon",
    "ggml_cuda_init: found 1 CUDA devices:",
    "  Device 0: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes",
    'time=2026-01-20T10:00:00.000Z level=INFO source=types.go:123 msg="inference compute" id=GPU-3f2a9c1e '
    'library=cuda variant=v12 compute=8.9 driver=12.4 name="NVIDIA GeForce RTX 4090" total="23.6 GiB" '
    'available="23.2 GiB"',
    "llama runner started in 2.51 seconds",
    "llama_model_loader: loaded meta data with 33 key-value pairs and 339 tensors from /models/x.gguf (version GGUF V3)",
    "load_tensors: offloaded 29/29 layers to GPU",
    "cuBLAS status: CUBLAS_STATUS_SUCCESS",
    '[GIN] 2026/01/20 - 10:00:02 | 200 |  1.204531s |      10.0.0.30 | POST     "/api/chat"',
    "model loaded: qwen2.5-coder:7b (4.7 GB) in 3.2s",
    "Memory: 64 GiB, GPU memory 24 GiB free",
]


@pytest.mark.parametrize("line,expected", FAILURES, ids=[f"failure-{i}" for i in range(len(FAILURES))])
def test_gpu_and_llm_failures_match_their_entry(line, expected):
    template = canonicalize(line)
    assert {p.name for p in match(template)} == expected, template


@pytest.mark.parametrize("line", INNOCUOUS, ids=[f"innocuous-{i}" for i in range(len(INNOCUOUS))])
def test_everyday_gpu_and_llm_lines_match_nothing(line):
    template = canonicalize(line)
    assert match(template) == [], template


def test_each_gpu_entry_is_reachable_and_says_what_to_run_first():
    seen = {name for _, expected in FAILURES for name in expected}
    assert seen == {p.name for p in GPU_CATALOGUE}
    actions = " ".join(actions_for({"gpu_lost", "gpu_xid", "llm_runner", "gpu_oom"}))
    for command in ("nvidia-smi", "journalctl -k | grep -i xid", "modprobe nvidia", "ollama ps"):
        assert command in actions
    assert all(len(p.actions) >= 2 and p.severity in ("error", "critical") for p in GPU_CATALOGUE)
