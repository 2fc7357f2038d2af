"""Catastrophic primitives: template patterns that mean trouble whatever the baseline says.

Patterns match the canonical template text (variables already masked), case-insensitive.
Each has a severity and the first things an SRE would do.
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
RESTART = re.compile(r"scheduled restart job|main process exited|start request repeated too quickly|"
                     r"failed with result|started |stopped |deactivated successfully", re.I)


def match(template: str) -> list[Primitive]:
    return [p for p in CATALOGUE if p.pattern.search(template)]


def actions_for(names: set[str]) -> list[str]:
    return [a for p in CATALOGUE if p.name in names for a in p.actions]
