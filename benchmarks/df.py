"""dftgen's density-fitted SCF (eri="df") against PySCF's `mf.density_fit()`, same machine,
same core, one run.

One worker process, pinned to one core with one thread (OMP/BLAS/XLA), runs for each
molecule (benchmarks/molecules.py; ETKDGv3 conformers at seed 0):
  * PySCF: RKS with the accurate preset's functional, basis and grid level,
    `density_fit(auxbasis=...)` with the auxiliary basis dftgen chose (PySCF's own default),
    small_rho_cutoff = 0 so both integrate the same grid, conv_tol as the preset's; timed
    around `kernel()`, the fitted tensor's build included (PySCF builds it in the first
    Fock build).
  * dftgen: `run_dft` with the accurate preset and eri="df"; timed end to end.
Both are warmed first (one untimed run each: dftgen compiles its programs or reads them from
JAX's persistent cache, reported apart as compile time = first run - best timed run; PySCF
loads its libraries and basis files), then the timed runs alternate A B A B ... so that a
change in the machine's load falls on both codes alike. Reported: the best of the timed runs
of each code, their ratio, dftgen's time in the fitted ERIs (three-index and metric
integrals, Cholesky, B) and in the SCF iterations, naux, and |dE| and |d gap| against PySCF.

    python benchmarks/df.py                  # 3 molecules, 2 rounds each
    python benchmarks/df.py --n 2 --rounds 3 --out benchmarks/results/df-cpu.md
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from molecules import QM1B_LIKE_SMILES  # noqa: E402
from pyscf_rks import pyscf_run  # noqa: E402

from dftgen import hugepages  # noqa: E402
from dftgen.pipeline import cluster  # noqa: E402


def cpu_header() -> str:
    """The CPU as lscpu names it, with its AVX2 / AVX-512 flags."""
    fields = dict(line.split(":", 1) for line in
                  subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                  if ":" in line)
    flags = set(fields.get("Flags", "").split())
    have = [f for f in ("avx2", "avx512f") if f in flags]
    return (f"{fields.get('Model name', 'unknown CPU').strip()}, {os.cpu_count()} cores, flags: "
            f"{', '.join(have) or 'neither avx2 nor avx512f'}")


def dftgen_run(mol, settings):
    """Seconds, energy, gap and the result of dftgen's run."""
    import dftgen

    start = time.perf_counter()
    result = dftgen.run_dft(mol, settings)
    return time.perf_counter() - start, result.energy_ha, result.gap_ha, result


def worker(smiles: list[str], rounds: int) -> list[dict]:
    """Every molecule: both codes warmed, then `rounds` alternating timed runs of each."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    import dftgen
    from dftgen.compilation_cache import enable
    from dftgen.presets import resolve

    enable()
    settings = resolve("accurate", eri="df")
    rows = []
    for smi in smiles:
        mol = dftgen.Molecule.from_smiles(smi, seed=0)
        first, *_, result = dftgen_run(mol, settings)
        pyscf_run(mol, settings, result.auxbasis)
        ours, theirs = [], []
        for _ in range(rounds):
            theirs.append(pyscf_run(mol, settings, result.auxbasis))
            ours.append(dftgen_run(mol, settings))
        best_ours = min(ours, key=lambda r: r[0])
        best_theirs = min(theirs, key=lambda r: r[0])
        rows.append({"smiles": smi, "nao": result.nao, "auxbasis": result.auxbasis,
                     "naux": _naux(mol, settings), "pyscf": best_theirs[0], "dftgen": best_ours[0],
                     "compile": max(first - best_ours[0], 0.0),
                     "eri": best_ours[3].timings["eri_s"], "scf": best_ours[3].timings["scf_s"],
                     "builds": best_ours[3].iterations + 1,
                     "de": abs(best_ours[1] - best_theirs[1]),
                     "dgap": abs(best_ours[2] - best_theirs[2])})
    return rows


def _naux(mol, settings) -> int:
    from dftgen.integrals import df

    return df.auxiliary_basis(mol, settings.basis, settings.auxbasis, settings.shells).nao


def table(rows: list[dict], rounds: int) -> str:
    from dftgen.presets import resolve

    s = resolve("accurate", eri="df")
    lines = [
        f"CPU: {cpu_header()}; one pinned process, one thread per code (OMP/BLAS/XLA), "
        f"huge pages {'on' if hugepages.active() else 'off'}",
        "",
        f"accurate preset with eri=\"df\": {s.xc} / {s.basis} / grid level {s.grid_level} / "
        f"{s.precision} / conv_tol {s.conv_tol:g}; best of {rounds} alternating timed runs "
        f"per code, both warmed",
        "",
        "| molecule | nao | auxbasis | naux | PySCF DF s | dftgen DF s | speed-up | compile s "
        "| dftgen fitted ERIs s | dftgen SCF s | Fock builds | dE (Ha) | d gap (Ha) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['smiles']} | {r['nao']} | {r['auxbasis']} | {r['naux']} | {r['pyscf']:.2f} | "
            f"{r['dftgen']:.2f} | {r['pyscf'] / r['dftgen']:.2f}x | {r['compile']:.1f} | "
            f"{r['eri']:.2f} | {r['scf']:.2f} | {r['builds']} | {r['de']:.1e} | {r['dgap']:.1e} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3, help="molecules (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per code (default 2)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    os.environ.update(cluster.worker_env())  # inherited by the spawned worker
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        rows = pool.apply(worker, (list(QM1B_LIKE_SMILES[: args.n]), args.rounds))
    text = table(rows, args.rounds)
    print(text)
    if args.out:
        args.out.write_text("# benchmarks/df.py: density-fitted SCF, dftgen against PySCF\n\n"
                            + text)


if __name__ == "__main__":
    hugepages.reexec(sys.argv)
    main()
