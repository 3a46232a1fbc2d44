"""Where a file of a dataset came from: the code, its dependencies and the machine.

Every part file and shard carries `provenance()` as an attribute, so that two copies of a
dataset that disagree can be traced to the code and machine that made each.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("dftgen", "jax", "jaxlib", "pyscf", "rdkit", "numpy", "h5py", "dftd3")
CPU_FLAGS = ("avx2", "avx512f", "fma")  # the vector extensions XLA:CPU's code depends on


@functools.lru_cache(maxsize=1)
def provenance() -> dict:
    """{"versions": {package: version}, "git_commit": str | None, "python": str,
    "machine": {"cpu": model name, "cpu_flags": [...], "cores": n, "platform": str}}."""
    return {
        "versions": {name: _version(name) for name in PACKAGES},
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "machine": _machine(),
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The commit of the source tree dftgen runs from, when it is a git checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _machine() -> dict:
    model, flags = cpu()
    return {"cpu": model, "cpu_flags": [f for f in CPU_FLAGS if f in flags],
            "cores": os.cpu_count(), "platform": platform.platform()}


@functools.lru_cache(maxsize=1)
def cpu() -> tuple[str, frozenset[str]]:
    """(model name, instruction-set flags) of this machine's CPU, from /proc/cpuinfo where
    there is one."""
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = frozenset(value.split())
                break
    except OSError:
        pass
    return model, flags
