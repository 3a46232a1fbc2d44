"""glibc's allocator set for XLA's large host buffers: transparent huge pages, two arenas.

XLA:CPU takes its buffers (ERI pair matrices and tiles, tens of MB at QM1B sizes; AO values)
from malloc, and glibc serves every block above its mmap threshold (at most 32 MiB) with a
fresh mmap, so each call faults its pages in again, 4 KiB at a time; on huge pages the same
buffers fault in 512 times less often (measured in benchmarks/results/tuning.md).
glibc >= 2.35 can back its heap and mmaps with transparent huge pages (the tunable
`glibc.malloc.hugetlb=1`, honoured where the kernel's THP mode is `madvise` or `always`).

XLA's threads each take an arena of their own (glibc allows eight per core), and one
thread's freed blocks are not reused by another's: with density fitting the SCF program's
first call grew the process by about twice its temporaries. `glibc.malloc.arena_max=2`
cut naphthalene's peak (def2-SVP, density fitting) from 3.4 to 2.7 GiB, at no cost at QM1B
sizes (benchmarks/results/allocator-cpu-avx2.md). A value the user set for either tunable
is kept.

Tunables are read once, when a process starts: `reexec` restarts the CLI with them set (its
Dask workers inherit them; the `dftgen` command restarts before the package's imports), and
`dask_config` hands them to workers spawned elsewhere. Set DFTGEN_HUGEPAGES=off to leave the
allocator alone.
"""

from __future__ import annotations

import os
import platform
import sys

TUNABLES = ("glibc.malloc.hugetlb=1", "glibc.malloc.arena_max=2")
SWITCH = "DFTGEN_HUGEPAGES"


def wanted() -> bool:
    """Whether huge pages apply here: glibc on Linux, not switched off."""
    return (os.environ.get(SWITCH, "").lower() != "off" and sys.platform.startswith("linux")
            and platform.libc_ver()[0] == "glibc")


def tunables(current: str | None = None) -> str:
    """GLIBC_TUNABLES with ours added where `current` (default: this process's) does not set
    them already."""
    current = os.environ.get("GLIBC_TUNABLES", "") if current is None else current
    named = {item.partition("=")[0] for item in current.split(":")}
    return ":".join([*filter(None, current.split(":")),
                     *(t for t in TUNABLES if t.partition("=")[0] not in named)])


def active() -> bool:
    """Whether this process started with huge pages asked for."""
    return TUNABLES[0] in os.environ.get("GLIBC_TUNABLES", "").split(":")


def reexec(argv: list[str]) -> None:
    """Replace this process by `python argv...` with our tunables, unless it has them already
    (or they do not apply). Call it first thing, before work worth keeping has been done."""
    if wanted() and tunables() != os.environ.get("GLIBC_TUNABLES", ""):
        env = dict(os.environ, GLIBC_TUNABLES=tunables())
        os.execve(sys.executable, [sys.executable, *argv], env)


def reexec_console_script() -> None:
    """`reexec` where this process is the `dftgen` command, called first thing by `import
    dftgen`: the command's script imports the package before its `main` runs, and a restart
    after those imports would pay for them twice (about a second)."""
    script = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if os.path.basename(script) == "dftgen" == os.path.basename(sys.argv[0]):
        reexec(sys.argv)


def dask_config() -> dict:
    """Dask settings that start spawned workers with our tunables (environment variables set
    after a worker starts are too late for glibc)."""
    if not wanted():
        return {}
    return {"distributed.nanny.pre-spawn-environ.GLIBC_TUNABLES": tunables()}
