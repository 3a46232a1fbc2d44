"""JAX's persistent compilation cache for dftgen's programs: one directory per machine kind,
locked and capped.

Compiling a molecule shape's integral and SCF programs takes seconds to minutes while running
them takes well under a second, and shapes repeat (shape buckets, conformers, test runs), so
compiled programs are kept on disk and reused across processes and runs.

Three rules keep the cache safe when many processes share it (pipeline workers, test
workers, cluster nodes with one home directory):
  * XLA:CPU compiles for the CPU it runs on, and JAX's cache key does not name that CPU: an
    executable read on another CPU kind (or under another jaxlib) can crash the process that
    loads it. Entries therefore live in `<root>/<machine fingerprint>/`, a directory per CPU
    model, instruction-set flags, JAX/jaxlib version and dftgen's XLA flags.
  * JAX writes an entry with a plain write, which another process can read half-written;
    with a size cap JAX takes a file lock around every read and write. So the cap is always
    set: at most DFTGEN_JAX_CACHE_MAX_GB (default 2) per directory, least recently used
    entries evicted first.
  * `dftgen cache info` and `dftgen cache prune` show and trim what is there.

The root is $DFTGEN_JAX_CACHE, else $JAX_COMPILATION_CACHE_DIR (JAX's own variable, as cluster
job scripts set it), else ~/.cache/dftgen/jax; DFTGEN_JAX_CACHE=off disables the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ENV = "DFTGEN_JAX_CACHE"
MAX_GB_ENV = "DFTGEN_JAX_CACHE_MAX_GB"
DEFAULT_MAX_GB = 2.0
ENTRY_SUFFIX, ATIME_SUFFIX = "-cache", "-atime"  # JAX's names for an entry and its last use


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
    parts = [model, " ".join(sorted(flags)), _version("jax"), _version("jaxlib"),
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
    """Point JAX at this machine kind's cache directory, capped and locked (idempotent);
    returns the directory in use."""
    import jax

    path = directory()
    if path is None:
        return None
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_compilation_cache_max_size", max_bytes())
    # programs that compile fast are cheaper to rebuild than to read back
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return path


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
            "max_bytes_per_directory": max_bytes(), "machine_kinds": kinds}


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


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
