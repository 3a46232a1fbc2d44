"""dftgen's density-fitted SCF (eri="df") against PySCF's `mf.density_fit()`: benchmarks/scf.py
at the accurate preset with eri df, one pinned single-threaded worker, the first 3 molecules.

Everything else is scf.py's (see its docstring): both codes warmed by a first pass (dftgen
compiling, reported as compile time), then alternating timed passes (dftgen, PySCF, dftgen,
PySCF, ...), each code's best pass with the spread, the machine in the header. PySCF fits with
the auxiliary basis dftgen chose (PySCF's own default for the basis unless --auxbasis); the
nao column gives nao / naux and the ERI column dftgen's fitted ERIs (three-index and metric
integrals, Cholesky, B). Any scf.py option overrides the defaults:

    python benchmarks/df.py                                  # accurate, eri df, 3 molecules
    python benchmarks/df.py --limit 2 --repeats 3 --out benchmarks/results/df-cpu.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scf import main  # noqa: E402

from dftgen import hugepages  # noqa: E402

DEFAULTS = ["--preset", "accurate", "--eri", "df", "--workers", "1", "--limit", "3"]

if __name__ == "__main__":
    hugepages.reexec(sys.argv)
    main(DEFAULTS + sys.argv[1:])
