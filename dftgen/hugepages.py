"""Transparent huge pages for XLA's large host buffers.

XLA:CPU takes its buffers (ERI pair matrices and tiles, tens of MB at QM1B sizes; AO values)
from malloc, and glibc serves every block above its mmap threshold (at most 32 MiB) with a
fresh mmap, so each call faults its pages in again, 4 KiB at a time; on huge pages the same
buffers fault in 512 times less often (measured in benchmarks/results/tuning.md).
glibc >= 2.35 can back its heap and mmaps with transparent huge pages (the tunable
`glibc.malloc.hugetlb=1`, honoured where the kernel's THP mode is `madvise` or `always`).

Tunables are read once, when a process starts: `reexec` restarts the CLI with them set (its
Dask workers inherit them), and `dask_config` hands them to workers spawned elsewhere. Set
DFTGEN_HUGEPAGES=off to leave the allocator alone.
"""

from __future__ import annotations

import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb=1"
SWITCH = "DFTGEN_HUGEPAGES"


def wanted() -> bool:
    """Whether huge pages apply here: glibc on Linux, not switched off."""
    return (os.environ.get(SWITCH, "").lower() != "off" and sys.platform.startswith("linux")
            and platform.libc_ver()[0] == "glibc")


def tunables(current: str | None = None) -> str:
    """GLIBC_TUNABLES with huge pages added to what `current` (default: this process's) holds."""
    current = os.environ.get("GLIBC_TUNABLES", "") if current is None else current
    if TUNABLE in current.split(":"):
        return current
    return f"{current}:{TUNABLE}" if current else TUNABLE


def active() -> bool:
    """Whether this process started with huge pages asked for."""
    return TUNABLE in os.environ.get("GLIBC_TUNABLES", "").split(":")


def reexec(argv: list[str]) -> None:
    """Replace this process by `python argv...` with huge pages on, unless they already are
    (or do not apply). Call it first thing, before work worth keeping has been done."""
    if wanted() and not active():
        env = dict(os.environ, GLIBC_TUNABLES=tunables())
        os.execve(sys.executable, [sys.executable, *argv], env)


def dask_config() -> dict:
    """Dask settings that start spawned workers with huge pages (environment variables set
    after a worker starts are too late for glibc)."""
    if not wanted():
        return {}
    return {"distributed.nanny.pre-spawn-environ.GLIBC_TUNABLES": tunables()}
