"""JAX's persistent compilation cache for dftgen's programs, and a bound on the compiled
programs a process keeps in memory.

Compiling a molecule shape's integral and SCF programs takes seconds to minutes while running
them takes well under a second, and shapes repeat (shape buckets, conformers, test runs), so
compiled programs are kept on disk and reused across processes and runs.

What keeps long-lived processes (pipeline workers, test workers) and a shared cache safe:
  * Every XLA:CPU kernel of a loaded program holds its own small memory mappings (code,
    constants, data: about three per kernel, a few hundred to thousands per program), and a
    process keeps every program it compiled while JAX's in-memory caches hold it. Linux caps
    the mappings of a process (vm.max_map_count, usually 65530); past it XLA's LLVM cannot map
    memory and the process aborts or segfaults, first where the most is mapped at once: in
    `executable.serialize()`, which links the program again to write its cache entry. So
    before each compile `MappingGuard` counts the mappings and, above DFTGEN_JAX_CLEAR_AT (a fraction
    of the kernel's limit, default 0.5), drops JAX's in-memory caches; what is needed again
    comes back from the disk cache.
  * JAX writes an entry with a plain write, which another process can read half-written;
    with a size cap JAX takes a file lock around every read and write. So the cap is always
    set: at most DFTGEN_JAX_CACHE_MAX_GB (default 2) per directory, least recently used
    entries evicted first.
  * XLA:CPU compiles for the CPU it runs on. JAX's cache key names that CPU in the versions
    that hash the device topology; where it does not (older JAX), an executable read on
    another CPU kind could crash the process that loads it. Entries therefore live in
    `<root>/<machine fingerprint>/`, a directory per CPU model, instruction-set flags,
    JAX/jaxlib version and dftgen's XLA flags.
  * `dftgen cache info` and `dftgen cache prune` show and trim what is there.
  * `programs()` counts the programs this process compiled and those it loaded from the cache
    (JAX's monitoring events), so a caller can see whether a phase compiled anything.

The root is $DFTGEN_JAX_CACHE, else $JAX_COMPILATION_CACHE_DIR (JAX's own variable, as cluster
job scripts set it), else ~/.cache/dftgen/jax; DFTGEN_JAX_CACHE=off disables the cache (the
mapping guard stays on; DFTGEN_JAX_CLEAR_AT=off switches it off).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import logging
import os
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ENV = "DFTGEN_JAX_CACHE"
MAX_GB_ENV = "DFTGEN_JAX_CACHE_MAX_GB"
DEFAULT_MAX_GB = 2.0
CLEAR_AT_ENV = "DFTGEN_JAX_CLEAR_AT"
DEFAULT_CLEAR_AT = 0.5
ENTRY_SUFFIX, ATIME_SUFFIX = "-cache", "-atime"  # JAX's names for an entry and its last use
# recorded by JAX as a scalar when a backend compile starts (and as a duration when it ends,
# also when the executable came from the persistent cache instead)
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
HIT_EVENT = "/jax/compilation_cache/cache_hits"  # an executable read from the persistent cache

logger = logging.getLogger(__name__)


def root() -> Path | None:
    """The folder holding every machine kind's cache directory, or None when the cache is off."""
    value = os.environ.get(ENV, "") or os.environ.get("JAX_COMPILATION_CACHE_DIR", "")
    if value.lower() == "off":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "dftgen" / "jax"


def fingerprint() -> str:
    """12 hex digits naming what an executable depends on beyond JAX's own key: the CPU model
    and instruction-set flags, the JAX and jaxlib versions, and dftgen's XLA flags."""
    from dftgen import xla_flags
    from dftgen.data.provenance import cpu

    model, flags = cpu()
    parts = [model, " ".join(sorted(flags)), package_version("jax"), package_version("jaxlib"),
             " ".join(xla_flags.chosen())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def directory() -> Path | None:
    """This machine kind's cache directory, or None when the cache is off."""
    base = root()
    return None if base is None else base / fingerprint()


def max_bytes() -> int:
    """The cap of one cache directory, from DFTGEN_JAX_CACHE_MAX_GB (default 2)."""
    text = os.environ.get(MAX_GB_ENV, "")
    try:
        gb = float(text) if text else DEFAULT_MAX_GB
    except ValueError:
        raise ValueError(f"{MAX_GB_ENV}={text!r} is not a number of GB") from None
    if gb <= 0:
        raise ValueError(f"{MAX_GB_ENV} must be > 0, got {text!r}")
    return int(gb * 2**30)


def enable() -> Path | None:
    """Point JAX at this machine kind's cache directory, capped and locked, and install the
    `MappingGuard` (idempotent); returns the cache directory in use."""
    import jax

    install_guard()
    install_counter()
    path = directory()
    if path is None:
        return None
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_compilation_cache_max_size", max_bytes())
    # every program is written, the small ones too: reading one back takes milliseconds, while
    # a bucket's few dozen small programs took seconds to compile again in every new process
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path


def map_limit() -> int | None:
    """The kernel's cap on one process's memory mappings (vm.max_map_count), where readable."""
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None


def mappings() -> int:
    """How many memory mappings this process holds now."""
    with open("/proc/self/maps", "rb") as f:
        return f.read().count(b"\n")


def clear_at() -> float | None:
    """DFTGEN_JAX_CLEAR_AT as a fraction of vm.max_map_count (default 0.5); None when off."""
    text = os.environ.get(CLEAR_AT_ENV, "")
    if text.lower() == "off":
        return None
    try:
        fraction = float(text) if text else DEFAULT_CLEAR_AT
    except ValueError:
        raise ValueError(f"{CLEAR_AT_ENV}={text!r} is not a fraction (or 'off')") from None
    if not 0 < fraction < 1:
        raise ValueError(f"{CLEAR_AT_ENV} must be between 0 and 1, got {text!r}")
    return fraction


class MappingGuard:
    """Before each compile: if this process holds more than `threshold` memory mappings, drop
    JAX's in-memory compiled programs (`jax.clear_caches`) so their kernels are unmapped."""

    # the most mappings one program is taken to add: reading /proc/self/maps costs time in
    # proportion to its length, so far below the threshold the count is not read every compile
    PER_PROGRAM = 5000

    def __init__(self, limit: int, fraction: float):
        self.limit = limit
        self.base = self.threshold = int(limit * fraction)
        self.clears = 0
        self.unchecked = 0  # compiles to go before the next count

    def __call__(self, event: str, value: float = 0.0, **kwargs) -> None:
        if event != COMPILE_EVENT:
            return
        if self.unchecked > 0:
            self.unchecked -= 1
            return
        held = mappings()
        if held <= self.threshold:
            self.unchecked = (self.threshold - held) // self.PER_PROGRAM
            return
        import jax

        jax.clear_caches()
        for clear in _clears:
            clear()
        gc.collect()
        left = mappings()
        self.clears += 1
        # Mappings held elsewhere (programs someone keeps a reference to, other libraries)
        # survive a clear; when too many do, wait for half the remaining room before the next
        # clear instead of clearing before every compile.
        margin = (self.limit - self.base) // 2
        self.threshold = self.base if left < self.base - margin else left + (self.limit - left) // 2
        logger.info("%d memory mappings held (the kernel allows %d): cleared JAX's in-memory "
                    "caches, %d left; next clear above %d", held, self.limit, left, self.threshold)


_guard: MappingGuard | None = None
_clears: list = []  # what else holds programs in memory (`executables.clear`)


def on_clear(clear) -> None:
    """Have the `MappingGuard` call clear() with every clear of JAX's in-memory caches."""
    _clears.append(clear)


def install_guard() -> MappingGuard | None:
    """Register the `MappingGuard` with JAX once per process (none where the kernel's limit
    cannot be read, JAX records no compile start, or DFTGEN_JAX_CLEAR_AT=off)."""
    global _guard
    if _guard is not None:
        return _guard
    fraction, limit = clear_at(), map_limit()
    if fraction is None or limit is None or not os.path.exists("/proc/self/maps"):
        return None
    import jax.monitoring

    if not hasattr(jax.monitoring, "register_scalar_listener"):
        return None
    _guard = MappingGuard(limit, fraction)
    jax.monitoring.register_scalar_listener(_guard)
    return _guard


def before_program() -> None:
    """What JAX's compile event triggers, for a program loaded without JAX's compile path
    (`executables`): the `MappingGuard`'s check."""
    if _guard is not None:
        _guard(COMPILE_EVENT)


@dataclasses.dataclass(frozen=True)
class Programs:
    """XLA programs a process compiled and those it read from the persistent cache instead
    (programs it already held in memory are neither)."""

    compiled: int = 0
    from_cache: int = 0

    @property
    def total(self) -> int:
        return self.compiled + self.from_cache

    def __add__(self, other: Programs) -> Programs:
        return Programs(self.compiled + other.compiled, self.from_cache + other.from_cache)

    def __sub__(self, other: Programs) -> Programs:
        return Programs(self.compiled - other.compiled, self.from_cache - other.from_cache)


class _Counter:
    """JAX's monitoring listeners: every backend compile ends in a COMPILE_EVENT duration, a
    persistent cache hit included, and a hit also records HIT_EVENT."""

    def __init__(self):
        self.requests = self.hits = 0

    def event(self, event: str, **kwargs) -> None:
        self.hits += event == HIT_EVENT

    def duration(self, event: str, duration: float, **kwargs) -> None:
        self.requests += event == COMPILE_EVENT


_counter: _Counter | None = None


def install_counter() -> None:
    """Register the program counter with JAX once per process."""
    global _counter
    if _counter is not None:
        return
    import jax.monitoring

    _counter = _Counter()
    jax.monitoring.register_event_listener(_counter.event)
    jax.monitoring.register_event_duration_secs_listener(_counter.duration)


def record_hit() -> None:
    """Count a program read from the cache outside JAX's compile path (`executables`)."""
    install_counter()
    _counter.requests += 1
    _counter.hits += 1


def programs() -> Programs:
    """The programs this process compiled and read from the cache since `enable()`; the
    difference of two calls counts those of what ran between them."""
    install_counter()
    return Programs(_counter.requests - _counter.hits, _counter.hits)


@dataclasses.dataclass(frozen=True)
class Entry:
    path: Path
    bytes: int
    last_used: float  # seconds since the epoch: JAX's access stamp, else the file's mtime


def entries(base: Path | None = None) -> list[Entry]:
    """Every entry under a root (default `root()`), every machine kind's directory included,
    least recently used first."""
    base = root() if base is None else base
    if base is None or not base.is_dir():
        return []
    found = []
    for path in base.rglob(f"*{ENTRY_SUFFIX}"):
        atime = path.with_name(path.name[: -len(ENTRY_SUFFIX)] + ATIME_SUFFIX)
        try:
            used = (int.from_bytes(atime.read_bytes(), "little") / 1e9 if atime.is_file()
                    else path.stat().st_mtime)
            found.append(Entry(path, path.stat().st_size, used))
        except OSError:  # removed by another process meanwhile
            continue
    return sorted(found, key=lambda e: e.last_used)


def touch(stem: Path) -> None:
    """Mark the entry `<stem>-cache` used now, in JAX's format (`<stem>-atime`: nanoseconds
    since the epoch, 8 bytes little-endian), for least-recently-used eviction."""
    try:
        stem.with_name(stem.name + ATIME_SUFFIX).write_bytes(time.time_ns().to_bytes(8, "little"))
    except OSError:
        pass  # a read-only cache: the entry just looks older


def info(base: Path | None = None) -> dict:
    """Where the cache is, its size and entries, per machine kind and in all."""
    base = root() if base is None else base
    found = entries(base)
    kinds: dict[str, dict] = {}
    for e in found:
        name = e.path.parent.name if e.path.parent != base else "(unkeyed: older dftgen)"
        kind = kinds.setdefault(name, {"entries": 0, "bytes": 0})
        kind["entries"] += 1
        kind["bytes"] += e.bytes
    return {"root": None if base is None else str(base), "directory": str(directory()),
            "entries": len(found), "bytes": sum(e.bytes for e in found),
            "oldest_unix": found[0].last_used if found else None,
            "max_bytes_per_directory": max_bytes(), "machine_kinds": kinds,
            "map_limit": map_limit(), "clear_at_fraction": clear_at()}


def prune(max_gb: float | None = None, older_than_days: float | None = None,
          base: Path | None = None) -> tuple[int, int]:
    """Remove entries last used more than `older_than_days` ago, then the least recently used
    until the cache holds at most `max_gb`; each directory is locked (JAX's own lock) while
    its entries go. Returns (entries removed, bytes freed)."""
    import filelock

    found = entries(base)
    total = sum(e.bytes for e in found)
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
    limit = None if max_gb is None else max_gb * 2**30
    removed = freed = 0
    for e in found:
        stale = cutoff is not None and e.last_used < cutoff
        over = limit is not None and total - freed > limit
        if not (stale or over):
            continue
        with filelock.FileLock(e.path.parent / ".lockfile"):
            for path in (e.path, e.path.with_name(e.path.name[: -len(ENTRY_SUFFIX)] + ATIME_SUFFIX)):
                path.unlink(missing_ok=True)
        removed += 1
        freed += e.bytes
    return removed, freed


def package_version(package: str) -> str:
    """An installed package's version, "unknown" where it is not installed."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
