"""JAX's persistent compilation cache for dftgen's programs.

Compiling a molecule shape's integral and SCF programs takes seconds to minutes while running
them takes well under a second, and shapes repeat (shape buckets, conformers, test runs), so
compiled programs are kept on disk and reused across processes and runs.

The directory is $DFTGEN_JAX_CACHE, else $JAX_COMPILATION_CACHE_DIR (JAX's own variable, as
cluster job scripts set it), else ~/.cache/dftgen/jax; DFTGEN_JAX_CACHE=off disables it.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "DFTGEN_JAX_CACHE"


def directory() -> Path | None:
    """Where compiled programs are kept, or None when the cache is off."""
    value = os.environ.get(ENV, "") or os.environ.get("JAX_COMPILATION_CACHE_DIR", "")
    if value.lower() == "off":
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "dftgen" / "jax"


def enable() -> Path | None:
    """Point JAX at the cache directory (idempotent); returns the directory in use."""
    import jax

    path = directory()
    if path is None:
        return None
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    # programs that compile fast are cheaper to rebuild than to read back
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return path
