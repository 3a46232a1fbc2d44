"""dftgen's SCF against PySCF's RKS on QM1B-like molecules, same machine, same cores, one run.

For each molecule (benchmarks/molecules.py; ETKDGv3 conformers at seed 0):
  * PySCF: RKS with the preset's functional, basis and grid level, its defaults otherwise
    (conv_tol 1e-9, DIIS 8, minao guess), timed around `kernel()`; small_rho_cutoff = 0 so
    both codes integrate the same grid (PySCF would otherwise drop low-density points).
  * dftgen: `run_dft` with the preset, run twice; the first run includes compiling the shape
    bucket's programs (reported apart as compile time), the second is the steady state.
Printed: seconds per molecule, molecules per hour and their ratio, |dE| and |d gap| against
PySCF (max and median), and dftgen's steady-state time split into ERI, XC, J/K, eigensolver
and other (each SCF component timed alone on the molecule's inputs, times the iterations).

    python benchmarks/scf.py                    # qm1b preset on all molecules
    python benchmarks/scf.py --accurate 3       # plus the accurate preset on the first 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from molecules import QM1B_LIKE_SMILES  # noqa: E402

import dftgen  # noqa: E402
from dftgen import integrals, xc  # noqa: E402
from dftgen.presets import resolve  # noqa: E402
from dftgen.scf.driver import prepare  # noqa: E402
from dftgen.scf.iterations import solve_fock  # noqa: E402


def pyscf_run(mol, settings):
    from pyscf import dft, lib

    pmol = mol.to_pyscf(settings.basis)
    mf = dft.RKS(pmol)
    mf.xc = settings.xc
    mf.grids.level = settings.grid_level
    mf.small_rho_cutoff = 0.0
    start = time.perf_counter()
    mf.kernel()
    elapsed = time.perf_counter() - start
    n = pmol.nelectron // 2
    return elapsed, mf.e_tot, mf.mo_energy[n] - mf.mo_energy[n - 1], lib.num_threads()


def component_split(mol, settings, iterations):
    """Seconds of one J/K build, one XC build and one eigensolve, times the iterations."""
    p = prepare(mol, settings)
    w = p.work
    dm = w.dm0
    jk = jax.jit(integrals.jk)
    vxc = jax.jit(lambda ao, wt, d: xc.vxc(settings.xc, ao, wt, d, precision=settings.precision))
    eig = jax.jit(solve_fock)

    def seconds(fn, *args, repeat=3):
        jax.block_until_ready(fn(*args))
        start = time.perf_counter()
        for _ in range(repeat):
            jax.block_until_ready(fn(*args))
        return (time.perf_counter() - start) / repeat

    split = {"eri": p.timings["eri_s"], "jk": seconds(jk, w.eri, dm) * iterations,
             "eig": seconds(eig, w.h, w.x) * iterations}
    split["xc"] = seconds(vxc, w.ao, w.weights, dm) * iterations if xc.functional(settings.xc).terms else 0.0
    return split


def bench(preset: str, smiles: list[str]) -> None:
    settings = resolve(preset)
    print(f"\n## preset {preset}: {settings.xc} / {settings.basis} / grid level {settings.grid_level}"
          f" / {settings.precision} / {settings.mode} mode\n")
    print("| molecule | nao | PySCF s | dftgen s | compile s | speed-up | dE (Ha) | d gap (Ha) "
          "| ERI | XC | J/K | eig | other |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for smi in smiles:
        mol = dftgen.Molecule.from_smiles(smi, seed=0)
        t_ref, e_ref, gap_ref, threads = pyscf_run(mol, settings)
        start = time.perf_counter()
        dftgen.run_dft(mol, settings)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        result = dftgen.run_dft(mol, settings)
        warm = time.perf_counter() - start
        split = component_split(mol, settings, result.iterations)
        other = max(warm - sum(split.values()), 0.0)
        de, dgap = abs(result.energy_ha - e_ref), abs(result.gap_ha - gap_ref)
        rows.append((t_ref, warm, cold - warm, de, dgap))
        print(f"| {smi} | {result.nao} | {t_ref:.2f} | {warm:.2f} | {cold - warm:.1f} | "
              f"{t_ref / warm:.1f}x | {de:.1e} | {dgap:.1e} | {split['eri']:.2f} | {split['xc']:.2f} | "
              f"{split['jk']:.2f} | {split['eig']:.2f} | {other:.2f} |", flush=True)
    t_ref, warm, compile_s, de, dgap = (np.array(c) for c in zip(*rows))
    print(f"\nPySCF threads: {threads}; molecules per hour: PySCF {3600 * len(rows) / t_ref.sum():.0f}, "
          f"dftgen {3600 * len(rows) / warm.sum():.0f} (ratio {t_ref.sum() / warm.sum():.1f}x); "
          f"compile per new shape: median {statistics.median(compile_s):.1f} s")
    print(f"|dE| max {de.max():.1e} median {statistics.median(de):.1e} Ha; "
          f"|d gap| max {dgap.max():.1e} median {statistics.median(dgap):.1e} Ha")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=len(QM1B_LIKE_SMILES), help="molecules (default all)")
    parser.add_argument("--accurate", type=int, default=0, help="also run the accurate preset on this many")
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"JAX {jax.__version__} on {jax.devices()[0].platform}")
    bench("qm1b", list(QM1B_LIKE_SMILES[: args.n]))
    if args.accurate:
        bench("accurate", list(QM1B_LIKE_SMILES[: args.accurate]))


if __name__ == "__main__":
    main()
