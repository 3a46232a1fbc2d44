"""Basis-set and atomic data read from PySCF, kept on disk so later processes skip its import.

Importing PySCF (its package imports its SCF modules, and SciPy's optimisers with them)
takes 0.3-0.5 s, a tenth of a fresh `dftgen run`, while the data dftgen reads from it (basis
sets, ground-state configurations) never changes within one PySCF version. Each value is
stored as JSON under `<cache root>/pyscf-<version>/` (the compilation cache's root,
`compilation_cache.root`) the first time a process reads it; with the cache off every read
goes to PySCF. Errors are not stored: a name PySCF does not know raises from PySCF each time.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

from dftgen import compilation_cache
from dftgen.atomic_files import write_text_atomically


def _directory() -> Path | None:
    base = compilation_cache.root()
    return None if base is None else base / f"pyscf-{compilation_cache.package_version('pyscf')}"


def _stored(key: str, read):
    """read()'s value (JSON-able), from the stored copy of `key` where there is one."""
    folder = _directory()
    if folder is None:
        return read()
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", key)[:60]
    path = folder / f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    value = read()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, json.dumps(value))  # readers in other processes
    except OSError:
        pass  # a read-only cache: the next process reads PySCF again
    return value


def basis(name: str, element: str) -> list:
    """`pyscf.gto.basis.load(name, element)`: [[l, (kappa,) [exponent, coefficients...],
    ...], ...]. Raises what PySCF raises for a name or element it does not have."""

    def read():
        from pyscf.gto import basis as pyscf_basis

        with warnings.catch_warnings():  # PySCF suggests installing an online basis exchange
            warnings.simplefilter("ignore")
            return pyscf_basis.load(name, element)

    return _stored(f"basis {name} {element}", read)


def configuration(z: int) -> list[int]:
    """Electrons per angular momentum (s, p, d, f) of element z's ground state, as PySCF's
    minao guess takes them (`pyscf.data.elements.NRSRHF_CONFIGURATION`)."""

    def read():
        from pyscf.data.elements import NRSRHF_CONFIGURATION

        return [int(n) for n in NRSRHF_CONFIGURATION[z]]

    return _stored(f"configuration {z}", read)
