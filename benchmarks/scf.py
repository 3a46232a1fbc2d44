"""dftgen's SCF against PySCF's RKS on QM1B-like molecules, same machine, same cores, one run.

Both codes label molecules the way a dataset is generated: `--workers` processes (default:
one per core), each pinned to its own core with one thread (OMP/BLAS/XLA), each given every
n-th molecule, all starting their timed pass together. Molecules per hour = molecules / the
slowest worker's wall time. `--workers 1 --threads 2` measures one process using both cores
instead (the latency of one molecule).

For each molecule (benchmarks/molecules.py; ETKDGv3 conformers at seed 0):
  * PySCF: RKS with the preset's functional, basis and grid level, its defaults otherwise
    (conv_tol 1e-9, DIIS 8, minao guess), timed around `kernel()`; small_rho_cutoff = 0 so
    both codes integrate the same grid (PySCF would otherwise drop low-density points).
  * dftgen: `run_dft` with the preset. Each worker runs its molecules once untimed first
    (compiling each shape bucket's programs, or reading them from JAX's persistent cache:
    reported apart as compile time, paid once per bucket), then the timed pass.
Printed: seconds per molecule, molecules per hour and their ratio, |dE| and |d gap| against
PySCF (max and median), and dftgen's time split into ERI, XC, J/K, eigensolver and other
(each SCF component timed alone on the molecule's inputs, times the Fock builds).

    python benchmarks/scf.py                    # qm1b preset on all molecules
    python benchmarks/scf.py --accurate 3       # plus the accurate preset on the first 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

from molecules import QM1B_LIKE_SMILES  # noqa: E402
from pyscf_rks import pyscf_run  # noqa: E402

from dftgen import hugepages  # noqa: E402
from dftgen.pipeline import cluster  # noqa: E402


def worker_env(threads: int) -> dict[str, str]:
    """Environment of a worker process, set before numpy, PySCF or JAX is imported there:
    the pipeline's for one thread, else `threads` OpenMP/BLAS threads."""
    if threads == 1:
        return cluster.worker_env()
    return {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _pin(worker: int, threads: int) -> None:
    """Pin a worker to its own cores: XLA sizes its thread pool from the affinity mask."""
    cores = sorted(os.sched_getaffinity(0))
    mine = cores[(worker * threads) % len(cores):][:threads] or cores[:threads]
    os.sched_setaffinity(0, mine)


def component_split(mol, settings, builds):
    """Seconds of the ERIs, and of one J/K build (G = J - a/2 K), one XC build and one
    eigensolve times the Fock builds."""
    import jax

    from dftgen import integrals, xc
    from dftgen import scf
    from dftgen.scf.iterations import solve_fock

    p = scf.assemble(scf.setup(mol, settings), settings)
    w = p.work
    dm = w.dm0
    hybrid = xc.functional(settings.xc).hybrid
    jk = jax.jit(integrals.two_electron, static_argnums=2)  # G = J - a/2 K, as the SCF forms it
    vxc = jax.jit(lambda ao, wt, d: xc.vxc(settings.xc, ao, wt, d, precision=settings.precision,
                                           ao_major=True))
    eig = jax.jit(solve_fock)

    def seconds(fn, *args, repeat=5):
        jax.block_until_ready(fn(*args))
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            best = min(best, time.perf_counter() - start)
        return best

    split = {"eri": p.timings["eri_s"], "jk": seconds(jk, w.eri, dm, hybrid) * builds,
             "eig": seconds(eig, w.h, w.x) * builds}
    split["xc"] = seconds(vxc, w.ao, w.weights, dm) * builds if xc.functional(settings.xc).terms else 0.0
    return split


def worker(code: str, preset: str, smiles: list[str], index: int, threads: int, barrier) -> dict:
    """One worker's molecules: untimed warm-up (dftgen), barrier, the timed pass."""
    _pin(index, threads)
    import dftgen
    from dftgen.compilation_cache import enable
    from dftgen.presets import resolve

    enable()
    settings = resolve(preset)
    mols = [dftgen.Molecule.from_smiles(s, seed=0) for s in smiles]
    compile_s = []
    if code == "dftgen":
        for mol in mols:
            start = time.perf_counter()
            dftgen.run_dft(mol, settings)
            compile_s.append(time.perf_counter() - start)
    barrier.wait()
    rows, start = [], time.perf_counter()
    for mol in mols:
        if code == "pyscf":
            seconds, energy, gap = pyscf_run(mol, settings)
            rows.append({"s": seconds, "energy": energy, "gap": gap})
        else:
            t0 = time.perf_counter()
            result = dftgen.run_dft(mol, settings)
            rows.append({"s": time.perf_counter() - t0, "energy": result.energy_ha,
                         "gap": result.gap_ha, "nao": result.nao, "builds": result.iterations + 1})
    wall = time.perf_counter() - start
    barrier.wait()
    if code == "dftgen":
        for row, mol, cold in zip(rows, mols, compile_s):
            row["compile"] = max(cold - row["s"], 0.0)
            row["split"] = component_split(mol, settings, row["builds"])
    return {"wall": wall, "rows": rows}


def run_all(code: str, preset: str, smiles: list[str], workers: int, threads: int):
    """Per-molecule rows in input order and the slowest worker's wall time."""
    workers = min(workers, len(smiles))
    context = multiprocessing.get_context("spawn")
    shares = [smiles[k::workers] for k in range(workers)]
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        barrier = manager.Barrier(workers)
        futures = [pool.submit(worker, code, preset, share, k, threads, barrier)
                   for k, share in enumerate(shares)]
        outputs = [f.result() for f in futures]
    rows = [None] * len(smiles)
    for k, out in enumerate(outputs):
        for i, row in enumerate(out["rows"]):
            rows[k + i * workers] = row
    return rows, max(out["wall"] for out in outputs)


def bench(preset: str, smiles: list[str], workers: int, threads: int) -> None:
    from dftgen.presets import resolve

    settings = resolve(preset)
    workers = min(workers, len(smiles))
    print(f"\n## preset {preset}: {settings.xc} / {settings.basis} / grid level {settings.grid_level}"
          f" / {settings.precision} / {settings.mode} mode; {workers} worker(s) x {threads} thread(s)\n")
    ref, ref_wall = run_all("pyscf", preset, smiles, workers, threads)
    ours, our_wall = run_all("dftgen", preset, smiles, workers, threads)
    print("| molecule | nao | PySCF s | dftgen s | compile s | speed-up | dE (Ha) | d gap (Ha) "
          "| ERI | XC | J/K | eig | other |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    de, dgap = [], []
    for smi, r, o in zip(smiles, ref, ours):
        split = o["split"]
        other = max(o["s"] - sum(split.values()), 0.0)
        de.append(abs(o["energy"] - r["energy"]))
        dgap.append(abs(o["gap"] - r["gap"]))
        print(f"| {smi} | {o['nao']} | {r['s']:.2f} | {o['s']:.2f} | {o['compile']:.1f} | "
              f"{r['s'] / o['s']:.1f}x | {de[-1]:.1e} | {dgap[-1]:.1e} | {split['eri']:.3f} | "
              f"{split['xc']:.3f} | {split['jk']:.3f} | {split['eig']:.3f} | {other:.3f} |")
    n = len(smiles)
    print(f"\nmolecules per hour ({workers} x {threads}): PySCF {3600 * n / ref_wall:.0f}, "
          f"dftgen {3600 * n / our_wall:.0f} (ratio {ref_wall / our_wall:.2f}x); "
          f"compile per new shape: median {statistics.median(o['compile'] for o in ours):.1f} s")
    print(f"|dE| max {max(de):.1e} median {statistics.median(de):.1e} Ha; "
          f"|d gap| max {max(dgap):.1e} median {statistics.median(dgap):.1e} Ha")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=len(QM1B_LIKE_SMILES),
                        help="molecules for the qm1b preset (default all; 0: none)")
    parser.add_argument("--accurate", type=int, default=0, help="also run the accurate preset on this many")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="worker processes (default: one per core)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    args = parser.parse_args(argv)
    os.environ.update(worker_env(args.threads))  # inherited by the spawned workers
    import jax

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"JAX {jax.__version__} on {jax.devices()[0].platform}, huge pages "
          f"{'on' if hugepages.active() else 'off'}")
    if args.n:
        bench("qm1b", list(QM1B_LIKE_SMILES[: args.n]), args.workers, args.threads)
    if args.accurate:
        bench("accurate", list(QM1B_LIKE_SMILES[: args.accurate]), args.workers, args.threads)


if __name__ == "__main__":
    hugepages.reexec(sys.argv)
    main()
