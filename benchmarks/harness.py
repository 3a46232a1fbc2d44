"""What every speed benchmark here shares, so that a reader can rerun a figure and trust it:

  * `header`: the machine (CPU model, its vector extensions, cache sizes, cores, memory,
    load), the software (dftgen's git commit and whether the tree is dirty, JAX, PySCF,
    XLA flags, huge pages), the date and the exact command line;
  * `add_cache_option` / `use_cache`: `--cold-cache` points JAX's persistent compilation cache
    at a fresh temporary directory, and `use_cache` says whether the cache a run compiles into
    was empty or warm, which decides what "compile time" means;
  * `CpuShare`: how busy the machine was while a run took its times, and how much of that
    was the run itself (the rest is other processes, whose load the times then carry);
  * `alternate`: the timed passes of the two codes taken in turn, A B A B ..., so that a
    change in the machine's load falls on both alike; `best_and_spread` reports each code's
    best pass and how far its slowest pass was from it.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from dftgen import compilation_cache, hugepages  # noqa: E402
from dftgen.data.provenance import cpu, provenance  # noqa: E402

#: the x86 vector extensions XLA:CPU and BLAS pick code paths by (those the CPU has are listed)
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


def cpu_caches() -> str:
    """The data and unified caches of core 0 and how many cores share each, from sysfs, e.g.
    "L1d 32K, L2 1024K per core, L3 32768K shared by 2 cores"."""
    parts = []
    for index in sorted(CACHE_DIR.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
            sharing = _count_cpus((index / "shared_cpu_list").read_text().strip())
        except OSError:
            continue
        name = f"L{level}" + ("d" if kind == "Data" else "")
        parts.append(f"{name} {size} " + ("per core" if sharing == 1 else f"shared by {sharing} cores"))
    return ", ".join(parts) or "cache sizes unknown (no /sys/devices/system/cpu/cpu0/cache)"


def _count_cpus(cpu_list: str) -> int:
    """How many CPUs a sysfs list such as "0-3,8" names."""
    total = 0
    for part in cpu_list.split(","):
        low, _, high = part.partition("-")
        total += int(high or low) - int(low) + 1
    return total


def load() -> str:
    """The load average over 1, 5 and 15 minutes against the core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def publish(lines: list[str], out: str | None) -> None:
    """Print a report's lines, with the CPU load at its end, and write them to `out` if given."""
    report = "\n".join([*lines, "", f"CPU while it ran: {load()}", ""])
    print(report)
    if out:
        with open(out, "w") as f:
            f.write(report)


def header(title: str, argv: list[str] | None = None, extra: list[str] = ()) -> str:
    """Markdown lines naming what produced a table: title, date, command, machine, software."""
    import jax
    import pyscf

    model, flags = cpu()
    have = [f for f in VECTOR_FLAGS if f in flags]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = provenance()["git_commit"] or "unknown (not a git checkout)"
    argv = sys.argv if argv is None else argv
    lines = [
        f"# {title}",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `python {shlex.join([_portable(a) for a in argv])}`",
        f"- dftgen commit: {commit.removesuffix('-dirty')}" + (
            f" (tree dirty: uncommitted changes in {', '.join(_changed_files())})"
            if commit.endswith("-dirty") else " (tree clean)"),
        f"- CPU: {model}; vector extensions: {', '.join(have) or 'none of ' + ', '.join(VECTOR_FLAGS)}",
        f"- caches: {cpu_caches()}",
        f"- cores: {os.cpu_count()} ({len(os.sched_getaffinity(0))} usable by this run), "
        f"{memory:.0f} GiB memory; at the start: {load()}",
        f"- software: JAX {jax.__version__} on {jax.devices()[0].platform}, PySCF "
        f"{pyscf.__version__}, Python {platform.python_version()}, huge pages "
        f"{'on' if hugepages.active() else 'off'}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}",
        *(f"- {line}" for line in extra),
    ]
    return "\n".join(lines) + "\n"


def _changed_files() -> list[str]:
    """Tracked files of dftgen's checkout with uncommitted changes."""
    out = subprocess.run(["git", "-C", str(ROOT.parent), "status", "--porcelain",
                          "--untracked-files=no"], capture_output=True, text=True)
    return [line[3:] for line in out.stdout.splitlines()] or ["(unknown)"]


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cold-cache", action="store_true",
                        help="compile into a fresh, empty JAX cache directory (removed at exit), "
                             "so that the compile time is a first run's on a new machine")


def _portable(arg: str) -> str:
    """A command-line argument as a reader can retype it: paths inside the repository relative
    to its root, other absolute paths by their file name (this machine's folders mean nothing
    elsewhere)."""
    if not os.path.isabs(arg):
        return arg
    inside = os.path.relpath(arg, ROOT.parent)
    return os.path.basename(arg) if inside.startswith("..") else inside


def use_cache(cold: bool) -> str:
    """Point dftgen's JAX cache at a fresh temporary directory when `cold` (through
    DFTGEN_JAX_CACHE, which spawned workers inherit), and say what state the cache is in."""
    if cold:
        path = tempfile.mkdtemp(prefix="dftgen-jax-cold-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        os.environ[compilation_cache.ENV] = path
        return "JAX cache: cold (--cold-cache: a fresh, empty directory)"
    directory = compilation_cache.directory()
    if directory is None:
        return "JAX cache: off (DFTGEN_JAX_CACHE=off): every first pass compiles"
    found = compilation_cache.entries(directory)
    if not found:
        return "JAX cache: empty at the start: the first pass compiles everything"
    return (f"JAX cache: warm ({len(found)} entries, "
            f"{sum(e.bytes for e in found) / 2**20:.0f} MB from earlier runs); a first pass reads "
            "back what it finds there instead of compiling it, so its compile time is a lower "
            "bound (use --cold-cache for a first run's)")


def alternate(codes: tuple[str, ...], repeats: int, one_pass) -> dict[str, list]:
    """`repeats` rounds of `one_pass(code)` for each code in turn (A B A B ...): every code's
    results in pass order."""
    results = {code: [] for code in codes}
    for _ in range(repeats):
        for code in codes:
            results[code].append(one_pass(code))
    return results


def best_and_spread(seconds: list[float]) -> tuple[float, float]:
    """(the best of a code's passes, how much slower its slowest pass was, as a fraction)."""
    best = min(seconds)
    return best, max(seconds) / best - 1.0


class CpuShare:
    """From its creation to `report()`: the core-seconds the machine was busy (/proc/stat),
    and how many of them were this process's and its finished children's (getrusage); the
    rest were other processes'. Steal time (another virtual machine on the same cores) is
    reported apart."""

    def __init__(self):
        self.wall, self.busy, self.steal, self.own = time.monotonic(), *_machine_busy(), _own_cpu()

    def report(self) -> str:
        wall = time.monotonic() - self.wall
        busy, steal = (now - then for now, then in zip(_machine_busy(), (self.busy, self.steal)))
        own = _own_cpu() - self.own
        cores = os.cpu_count()

        def share(seconds):
            return f"{100 * seconds / (wall * cores):.0f}%"

        return (f"CPU while the run took its times ({wall:.0f} s x {cores} cores): machine busy "
                f"{share(busy)}, of which this run {share(min(own, busy))} and other processes "
                f"{share(max(busy - own, 0.0))}; steal {share(steal)}; at the end: {load()} "
                "(this run's own workers included)")


def _machine_busy() -> tuple[float, float]:
    """(busy, steal) core-seconds since boot from /proc/stat's cpu line; zeros without it."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    ticks = [int(x) for x in fields] + [0] * 8
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _own_cpu() -> float:
    """CPU seconds of this process and its children that have ended."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))
