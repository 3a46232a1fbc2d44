"""dftgen's forces against PySCF's analytic gradient, side by side on one core, and each
code's peak memory.

Both codes converge the same SCF first (not timed here): wB97X in def2-SVP with density
fitting (PySCF's default auxiliary basis, def2-universal-jkfit, on both sides) and grid
level 3 by default: the `wb97x-d3bj-def2-svp` preset without its D3(BJ) term, whose
gradient PySCF would need pyscf-dispersion for. Then the gradient is timed: dftgen's
`forces` (what `run_dft(..., forces=True)` adds, `timings["forces_s"]`) against PySCF's
`mf.nuc_grad_method().kernel()` (DF gradients with the auxiliary functions' response, no
grid response, as dftgen). Passes alternate (dftgen, PySCF, dftgen, ...) in one process
pinned to one core with one thread; dftgen's first pass, which compiles or loads its
programs, is reported apart from its best. Peak memory: each code in a fresh process per
molecule (SCF and gradient), its maximum resident set size.

    python benchmarks/forces.py                        # ethanol, benzene, 2 QM1B-like
    python benchmarks/forces.py --repeats 3 --out benchmarks/results/forces-cpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from molecules import QM1B_LIKE_SMILES  # noqa: E402

SMILES = ("CCO", "c1ccccc1", *QM1B_LIKE_SMILES[:2])
OVERRIDES = dict(xc="wb97x")
PRESET = "wb97x-d3bj-def2-svp"


def _one_core() -> None:
    """One core and one thread for both codes (before JAX or NumPy's BLAS start)."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"


def _molecule(smiles: str):
    from dftgen import Molecule
    return Molecule.from_smiles(smiles, seed=0)


def _settings():
    import dataclasses

    from dftgen.presets import PRESETS
    return dataclasses.replace(PRESETS[PRESET].settings, **OVERRIDES)


def _converged(smiles: str):
    """Both codes' converged calculations of one molecule: (dftgen's setup, result), PySCF's
    mean field."""
    from pyscf_rks import mean_field

    from dftgen import run_dft
    from dftgen.scf.problem import setup

    mol, settings = _molecule(smiles), _settings()
    result = run_dft(mol, settings, forces=False, keep_orbitals=True)
    mf = mean_field(mol, settings, result.auxbasis)
    mf.kernel()
    return setup(mol, settings), result, mf


def _dftgen_forces(setup, result):
    import numpy as np

    from dftgen.scf.forces import forces
    occ = np.zeros(result.nao)
    occ[:setup.n_occ] = 2.0
    return forces(setup, result.settings, result.dm, result.mo_energy, result.mo_coeff, occ)


def timed(repeats: int) -> list[dict]:
    """Per molecule: the gradient's seconds of each pass of each code, and the largest
    difference of the two codes' forces (Hartree/Bohr)."""
    import numpy as np

    rows = []
    for smiles in SMILES:
        setup, result, mf = _converged(smiles)
        got = {}

        def one_pass(code):
            start = time.perf_counter()
            got[code] = (_dftgen_forces(setup, result) if code == "dftgen"
                         else -mf.nuc_grad_method().kernel())
            return time.perf_counter() - start

        seconds = harness.alternate(("dftgen", "pyscf"), repeats + 1, one_pass)
        rows.append({"smiles": smiles, "nao": result.nao, "naux": setup.auxbasis.nao,
                     "dftgen": seconds["dftgen"], "pyscf": seconds["pyscf"],
                     "diff": float(np.abs(got["dftgen"] - got["pyscf"]).max())})
    return rows


def peak(code: str, smiles: str) -> float:
    """GB: the maximum resident set of a fresh process running `code`'s SCF and forces."""
    out = subprocess.run([sys.executable, __file__, "--peak-of", code, smiles],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["gb"]


def _peak_of(code: str, smiles: str) -> None:
    if code == "dftgen":
        from dftgen import run_dft
        run_dft(_molecule(smiles), _settings(), forces=True)
    else:
        from pyscf_rks import mean_field

        from dftgen.integrals.df import default_auxbasis
        mol, settings = _molecule(smiles), _settings()
        mf = mean_field(mol, settings, default_auxbasis(mol, settings.basis))
        mf.kernel()
        mf.nuc_grad_method().kernel()
    # VmHWM, not ru_maxrss: Linux carries the parent's peak over exec into ru_maxrss
    status = Path("/proc/self/status").read_text().split("VmHWM:")[1].split()
    print(json.dumps({"gb": int(status[0]) * 1024 / 1e9}))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="timed passes of each code")
    parser.add_argument("--out", help="also write the report to this file")
    parser.add_argument("--peak-of", nargs=2, metavar=("CODE", "SMILES"), help=argparse.SUPPRESS)
    harness.add_cache_option(parser)
    args = parser.parse_args(argv)
    _one_core()
    if args.peak_of:
        return _peak_of(*args.peak_of)
    cache = harness.use_cache(args.cold_cache)
    share = harness.CpuShare()
    rows = timed(args.repeats)
    peaks = {(code, smiles): peak(code, smiles) for smiles in SMILES for code in ("dftgen", "pyscf")}
    lines = [harness.header("Forces: dftgen against PySCF's analytic gradient, one core",
                            extra=[f"settings: {PRESET} with {OVERRIDES} (density fitting, "
                                   "grid level 3), both codes", cache]),
             "| molecule | nao / naux | PySCF gradient s | dftgen forces s (best) | dftgen first pass s "
             "| dftgen / PySCF speed | max abs dF Ha/Bohr | peak GB PySCF | peak GB dftgen |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        pyscf, _ = harness.best_and_spread(row["pyscf"])
        best, spread = harness.best_and_spread(row["dftgen"][1:])
        lines.append(
            f"| {row['smiles']} | {row['nao']} / {row['naux']} | {pyscf:.2f} | {best:.2f} "
            f"(+{100 * spread:.0f}%) | {row['dftgen'][0]:.1f} | {pyscf / best:.2f}x | "
            f"{row['diff']:.1e} | {peaks['pyscf', row['smiles']]:.2f} | "
            f"{peaks['dftgen', row['smiles']]:.2f} |")
    from dftgen import compilation_cache
    guard = compilation_cache.install_guard()
    lines += ["", f"dftgen's in-memory programs were dropped {guard.clears if guard else 0} times "
              "in the timed passes (`compilation_cache.MappingGuard`: past half the kernel's "
              "memory-mapping limit; each pass then reads its programs back from disk).",
              "", "Seconds are the gradient alone after a converged SCF; dftgen's best over "
              f"{args.repeats} passes after its first, PySCF's best over all of its passes "
              "(it compiles nothing). Peak GB: a fresh process per code and molecule running "
              "the SCF and the gradient.", "", share.report()]
    harness.publish(lines, args.out)


if __name__ == "__main__":
    main()
