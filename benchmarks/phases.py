"""Where one molecule's time goes: dftgen's `run_dft` on one pinned core, one thread, warm,
phase by phase.

Each molecule (benchmarks/molecules.py, ETKDGv3 conformers at seed 0) runs twice to warm
(compilation, caches), then `--repeats` times; per phase the best of those runs, in ms:

  * the phases `run_dft` times itself (`DFTResult.timings`): grid, one-electron integrals,
    ERIs (with the P supermatrix the SCF reads), AO values, guess, SCF iterations, final
    evaluation; "rest" is the run's wall time less their sum (the result: dipole, Mulliken
    charges, dispersion, Python);
  * split further, each timed alone on the molecule's inputs: the ERIs' integrals alone
    (`integrals.eri`, as the SCF asks for them), and per Fock build the XC potential, G
    (J - a/2 K) and the eigensolver, times the builds (iterations + 1) with the iterations'
    remainder (DIIS, density) left as "iterations, other".

With `--pyscf`, PySCF's own phases on the same core beside them, each the best of
`--repeats` calls after one untimed: its grid, its ERIs (`int2e`, 8-fold packed, as its SCF
keeps them in memory; presets with exact ERIs only), one XC build (`nr_rks`, which
evaluates the AO values inside) and one J/K build from the minao guess, and a fresh
calculation's whole `kernel()` (timed once, its ERIs included) and the cycles it took.

    python benchmarks/phases.py                       # qm1b, 3 molecules
    python benchmarks/phases.py --n 5 --out benchmarks/results/phases-qm1b-cpu.md
    python benchmarks/phases.py --preset accurate --n 1 --repeats 1 --pyscf
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = "1"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness  # noqa: E402
from molecules import QM1B_LIKE_SMILES  # noqa: E402

from dftgen import hugepages  # noqa: E402

PHASES = ("grid_s", "one_electron_s", "eri_s", "ao_s", "guess_s", "scf_s", "final_s")


def best_of(fn, repeats: int) -> float:
    """Seconds of the fastest of `repeats` calls of fn (blocking on its result)."""
    import jax

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best


def pyscf_phases(mol, settings, repeats: int) -> dict[str, float]:
    """Seconds of PySCF's phases of one molecule and its cycles (module docstring)."""
    from pyscf_rks import mean_field

    mf = mean_field(mol, settings)

    def best(fn) -> float:
        """`best_of` after one untimed call (PySCF's first calls set up caches)."""
        fn()
        return best_of(fn, repeats)

    dm = mf.get_init_guess()
    dft = hasattr(mf, "_numint")  # Hartree-Fock has no grid
    phases = {"grid": best(mf.grids.build) if dft else 0.0,
              "eri": best(lambda: mf.mol.intor("int2e", aosym="s8")),
              "xc": best(lambda: mf._numint.nr_rks(mf.mol, mf.grids, mf.xc, dm)) if dft else 0.0,
              "jk": best(lambda: mf.get_jk(mf.mol, dm))}
    # a fresh one: get_jk above left its in-memory ERIs on mf
    mf, cycles = mean_field(mol, settings), []
    mf.callback = lambda env: cycles.append(env["cycle"])
    start = time.perf_counter()
    mf.kernel()
    phases["kernel"] = time.perf_counter() - start
    phases["cycles"] = len(cycles)
    return phases


def molecule_phases(mol, settings, repeats: int) -> dict[str, float]:
    """Seconds per phase of one molecule (module docstring)."""
    from scf import component_split

    from dftgen import basis, integrals, run_dft
    from dftgen.scf.problem import MIXED_FLOAT32_BELOW

    for _ in range(2):
        run_dft(mol, settings)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run_dft(mol, settings)
        runs.append((time.perf_counter() - start, result))
    phases = {key: min(r.timings.get(key, 0.0) for _, r in runs) for key in PHASES}
    phases["total"] = min(seconds for seconds, _ in runs)
    phases["rest"] = max(phases["total"] - sum(phases[key] for key in PHASES), 0.0)
    phases["nao"], phases["cycles"] = runs[0][1].nao, runs[0][1].iterations
    bas = basis.build(mol, settings.basis, settings.shells)
    mixed = settings.precision != "float64"
    phases["eri_integrals"] = best_of(lambda: integrals.eri(
        mol, bas, float32_below=MIXED_FLOAT32_BELOW if mixed else 0.0), repeats)
    builds = phases["cycles"] + 1
    split = component_split(mol, settings, builds)
    phases.update({f"scf_{key}": split[key] for key in ("xc", "jk", "eig")})
    phases["scf_other"] = max(phases["scf_s"] - sum(split[key] for key in ("xc", "jk", "eig")), 0.0)
    return phases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3, help="molecules (default 3)")
    parser.add_argument("--preset", default="qm1b")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per molecule")
    parser.add_argument("--core", type=int, default=0, help="the core to pin to")
    parser.add_argument("--pyscf", action="store_true", help="PySCF's phases beside them")
    parser.add_argument("--out", help="also write the report to this file")
    opts = parser.parse_args(argv)
    from dftgen.molecule import Molecule
    from dftgen.presets import PRESETS

    settings = PRESETS[opts.preset].settings
    if opts.pyscf and settings.eri != "exact":
        parser.error(f"--pyscf times PySCF's exact ERIs; preset {opts.preset} takes "
                     f"eri={settings.eri!r} (benchmarks/df.py compares density fitting)")
    os.sched_setaffinity(0, {opts.core})
    rows = []
    for smiles in QM1B_LIKE_SMILES[:opts.n]:
        mol = Molecule.from_smiles(smiles, seed=0)
        rows.append((smiles, molecule_phases(mol, settings, opts.repeats)))
        print(f"{smiles}: {rows[-1][1]['total'] * 1e3:.0f} ms", file=sys.stderr, flush=True)
    columns = [("total", "total"), ("grid_s", "grid"), ("one_electron_s", "one-electron"),
               ("eri_integrals", "ERIs alone"), ("eri_s", "ERIs + P"), ("ao_s", "AO values"),
               ("guess_s", "guess"), ("scf_s", "SCF iterations"), ("scf_xc", "of which XC"),
               ("scf_jk", "G"), ("scf_eig", "eigensolver"), ("scf_other", "iterations, other"),
               ("final_s", "final evaluation"), ("rest", "rest")]
    lines = [harness.header(f"benchmarks/phases.py: one molecule's time by phase, preset "
                            f"{opts.preset}, one core",
                            extra=[f"{opts.repeats} timed runs per molecule after 2 warm "
                                   f"ones; per phase the best of them, ms"]), "",
             "| molecule | nao | " + " | ".join(title for _, title in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for smiles, p in rows:
        lines.append(f"| {smiles} | {p['nao']} | "
                     + " | ".join(f"{p[key] * 1e3:.0f}" for key, _ in columns) + " |")
    lines += ["", "ERIs + P: the ERIs and the P supermatrix built from them, as the SCF takes "
                  "them (the ERIs alone are timed apart); XC, G and eigensolver: one of each "
                  "timed alone, times the Fock builds."]
    if opts.pyscf:
        lines += ["", "PySCF on the same core (one of each build timed alone; kernel() once):", "",
                  "| molecule | grid | ERIs (int2e s8) | one XC build | one J/K build | "
                  "kernel() | cycles | dftgen: cycles | dftgen: one XC build |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for smiles, p in rows:
            q = pyscf_phases(Molecule.from_smiles(smiles, seed=0), settings, opts.repeats)
            lines.append(f"| {smiles} | {q['grid'] * 1e3:.0f} | {q['eri'] * 1e3:.0f} | "
                         f"{q['xc'] * 1e3:.0f} | {q['jk'] * 1e3:.0f} | {q['kernel'] * 1e3:.0f} | "
                         f"{q['cycles']} | {p['cycles']} | "
                         f"{p['scf_xc'] / (p['cycles'] + 1) * 1e3:.0f} |")
        lines += ["", "ms; dftgen's one XC build is its \"of which XC\" over its Fock builds."]
    harness.publish(lines, opts.out)


if __name__ == "__main__":
    hugepages.reexec(sys.argv)
    main()
