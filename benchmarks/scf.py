"""dftgen's SCF against PySCF's on the QM1B-like molecules: same machine, same cores, one run,
any preset.

Both codes label molecules the way a dataset is generated: `--workers` processes (default:
one per core), each pinned to its own core with one thread (OMP/BLAS/XLA), each given every
n-th molecule (benchmarks/molecules.py; ETKDGv3 conformers at seed 0). Every worker runs both
codes, and all workers start each pass together (a barrier):
  1. dftgen's first pass: it compiles each shape bucket's programs, or reads them from JAX's
     persistent cache (the header says whether that cache was empty, warm, or a fresh one
     with `--cold-cache`); compile time = a molecule's first run - its best timed run;
  2. PySCF's first pass, so that its imports, basis parsing, grid tables and caches are paid
     before the timing as dftgen's compilation is;
  3. `--repeats` rounds of a timed dftgen pass then a timed PySCF pass (A B A B ...), so that a
     change in the machine's load falls on both codes alike.
Molecules per hour of a pass = molecules / the slowest worker's wall time in it. Reported:
each code's best timed pass with the spread of its passes (steady state), and each code's
first pass (dftgen including its compilation); per molecule the best of its timed runs.
`--workers 1 --threads 2` measures one process using both cores instead (the latency of one
molecule); with `--batch` dftgen labels each worker's molecules in one `run_dft_batch` call
(a per-molecule row then shows the pass's wall time over its molecules), which spreads them
over the worker's cores (a JAX CPU device each), while PySCF runs them one after another on
its OpenMP threads: `--workers 1 --threads 2 --batch` is one process on both cores, and
`--workers 1 --threads 1 --batch` the same process on one.

Settings: a preset of `dftgen.presets.PRESETS` (`--preset`, default qm1b), with `--xc`,
`--basis`, `--shells`, `--grid-level`, `--eri` and `--auxbasis` overriding it. dftgen runs
the preset as a dataset would (a "fixed" preset such as qm1b: exactly max_iter iterations);
PySCF runs RKS (RHF for Hartree-Fock) with the same functional (a "-d3bj" suffix: D3(BJ)
through pyscf-dispersion), basis, shells (cart=True for Cartesian ones), grid level and
conv_tol, density-fitted with the auxiliary basis dftgen chose wherever dftgen fits (eri
"df", or "auto" where it picks df), small_rho_cutoff 0 so that both integrate the same grid,
and PySCF's defaults otherwise (DIIS, minao guess), timed around kernel().

Printed: the machine and software (benchmarks/harness.py), then per molecule nao (and naux
where fitted), each code's seconds, dftgen's compile seconds, their ratio, |dE| and |d gap|
against PySCF, and dftgen's time split into ERI (the fitted ERIs where fitted), XC, J/K,
eigensolver and other (each SCF component timed alone on the molecule's inputs, times the
Fock builds); then molecules per hour of every pass, and how busy the CPU was.

    python benchmarks/scf.py                                    # qm1b, all 24 molecules
    python benchmarks/scf.py --preset accurate --limit 3        # the accurate preset on 3
    python benchmarks/scf.py --limit 2 --repeats 1 --cold-cache  # a quick check
    python benchmarks/df.py                                     # accurate with eri df
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))

import harness  # noqa: E402
from molecules import QM1B_LIKE_SMILES  # noqa: E402
from pyscf_rks import pyscf_run, shells_note  # noqa: E402

from dftgen import hugepages  # noqa: E402
from dftgen.pipeline import cluster  # noqa: E402
from dftgen.presets import ERI_METHODS, PRESETS, Settings, resolve  # noqa: E402

CODES = ("dftgen", "pyscf")


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
    """Seconds of the ERIs (fitted ERIs where fitted), and of one J/K build (G = J - a/2 K),
    one XC build and one eigensolve times the Fock builds."""
    import jax

    from dftgen import integrals, xc
    from dftgen import scf
    from dftgen.scf.driver import orbitals_needed
    from dftgen.scf.iterations import density, occupied, solve_fock

    p = scf.assemble(scf.setup(mol, settings), settings)
    w = p.work
    dm = w.dm0
    functional = xc.functional(settings.xc)
    # the builds take the density's orbitals where the SCF's do: fitted exchange, and the
    # density on the grid in polarised bases
    orbitals = None
    n_orbitals = orbitals_needed([w], settings)
    if n_orbitals is not None:
        _, c = solve_fock(w.h, w.x)
        dm, orbitals = density(c, w.occ), occupied(c, w.occ, n_orbitals)
    jk = jax.jit(lambda eri, d, o: integrals.two_electron(eri, d, functional.hybrid,
                                                          functional.long_range, o))
    vxc = jax.jit(lambda ao, wt, d, o: xc.vxc(settings.xc, ao, wt, d, orbitals=o,
                                              precision=settings.precision, ao_major=True))
    eig = jax.jit(solve_fock)

    def seconds(fn, *args, repeat=5):
        jax.block_until_ready(fn(*args))
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            best = min(best, time.perf_counter() - start)
        return best

    split = {"eri": p.timings["eri_s"], "jk": seconds(jk, w.eri, dm, orbitals) * builds,
             "eig": seconds(eig, w.h, w.x) * builds}
    split["xc"] = seconds(vxc, w.ao, w.weights, dm, orbitals) * builds if functional.terms else 0.0
    return split


def dftgen_pass(mols, settings: Settings, batch: bool) -> dict:
    """One run of dftgen per molecule, or one `run_dft_batch` of them all (batch; a row's
    seconds are then the pass's wall time over its molecules): the pass's wall time and a
    row per molecule."""
    import dftgen

    def row(result, seconds):
        return {"s": seconds, "energy": result.energy_ha, "gap": result.gap_ha,
                "nao": result.nao, "builds": result.iterations + 1,
                "auxbasis": result.auxbasis if result.two_electron_method == "df" else None}

    start = time.perf_counter()
    if batch:
        results = dftgen.run_dft_batch(mols, settings)
        wall = time.perf_counter() - start
        return {"wall": wall, "rows": [row(r, wall / len(mols)) for r in results]}
    rows = []
    for mol in mols:
        t0 = time.perf_counter()
        result = dftgen.run_dft(mol, settings)
        rows.append(row(result, time.perf_counter() - t0))
    return {"wall": time.perf_counter() - start, "rows": rows}


def pyscf_pass(mols, settings: Settings, auxbases: list[str | None]) -> dict:
    """One run of PySCF per molecule, density-fitted where dftgen fitted that molecule."""
    rows, start = [], time.perf_counter()
    for mol, auxbasis in zip(mols, auxbases):
        seconds, energy, gap = pyscf_run(mol, settings, auxbasis)
        rows.append({"s": seconds, "energy": energy, "gap": gap})
    return {"wall": time.perf_counter() - start, "rows": rows}


def worker(settings: Settings, smiles: list[str], index: int, threads: int, barrier,
           repeats: int, batch: bool) -> dict:
    """One worker's molecules: each code's first pass, then `repeats` alternating timed
    passes, every pass started together with the other workers; then dftgen's split."""
    _pin(index, threads)
    import dftgen
    from dftgen.compilation_cache import enable

    enable()
    mols = [dftgen.Molecule.from_smiles(s, seed=0) for s in smiles]

    def done(label, out):  # progress on stderr: a long first pass is otherwise silent
        print(f"worker {index}: {label} pass {out['wall']:.1f} s", file=sys.stderr, flush=True)
        return out

    barrier.wait()
    first = {"dftgen": done("dftgen first", dftgen_pass(mols, settings, batch))}
    auxbases = [row["auxbasis"] for row in first["dftgen"]["rows"]]
    barrier.wait()
    first["pyscf"] = done("PySCF first", pyscf_pass(mols, settings, auxbases))

    def one_pass(code):
        barrier.wait()
        if code == "dftgen":
            return done("dftgen timed", dftgen_pass(mols, settings, batch))
        return done("PySCF timed", pyscf_pass(mols, settings, auxbases))

    timed = harness.alternate(CODES, repeats, one_pass)
    barrier.wait()
    split = [component_split(mol, settings, row["builds"])
             for mol, row in zip(mols, first["dftgen"]["rows"])]
    naux = [_naux(mol, settings) if aux else None for mol, aux in zip(mols, auxbases)]
    return {"first": first, "timed": timed, "split": split, "naux": naux}


def _naux(mol, settings: Settings) -> int:
    from dftgen.integrals import df

    return df.auxiliary_basis(mol, settings.basis, settings.auxbasis, settings.shells).nao


def run_all(settings: Settings, smiles: list[str], workers: int, threads: int, repeats: int,
            batch: bool):
    """Every worker's output, and which worker holds which molecules."""
    context = multiprocessing.get_context("spawn")
    shares = [smiles[k::workers] for k in range(workers)]
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        barrier = manager.Barrier(workers)
        futures = [pool.submit(worker, settings, share, k, threads, barrier, repeats, batch)
                   for k, share in enumerate(shares)]
        return [f.result() for f in futures]


def in_order(per_worker: list[list]) -> list:
    """Per-worker lists (worker k holds molecules k, k + workers, ...) in input order."""
    out = [None] * sum(map(len, per_worker))
    for k, items in enumerate(per_worker):
        out[k::len(per_worker)] = items
    return out


def merged(passes: list[dict]) -> tuple[list, float]:
    """One pass, a dict per worker: its rows in input order and the slowest worker's wall."""
    return in_order([p["rows"] for p in passes]), max(p["wall"] for p in passes)


def bench(settings: Settings, smiles: list[str], workers: int, threads: int, repeats: int,
          batch: bool) -> str:
    """The table and summary of one run, as markdown."""
    n = len(smiles)
    outputs = run_all(settings, smiles, workers, threads, repeats, batch)
    first = {code: merged([out["first"][code] for out in outputs]) for code in CODES}
    timed = {code: [merged([out["timed"][code][r] for out in outputs]) for r in range(repeats)]
             for code in CODES}
    split = in_order([out["split"] for out in outputs])
    naux = in_order([out["naux"] for out in outputs])

    def best(code, i):  # a molecule's best timed run
        return min(rows[i]["s"] for rows, _ in timed[code])

    lines = ["| molecule | nao | PySCF s | dftgen s | dftgen compile s | speed-up | dE (Ha) "
             "| d gap (Ha) | ERI | XC | J/K | eig | other |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    de, dgap, compile_s = [], [], []
    for i, smi in enumerate(smiles):
        ours, theirs = timed["dftgen"][-1][0][i], timed["pyscf"][-1][0][i]
        s_ours, s_theirs = best("dftgen", i), best("pyscf", i)
        compile_s.append(max(first["dftgen"][0][i]["s"] - s_ours, 0.0))
        other = max(s_ours - sum(split[i].values()), 0.0)
        de.append(abs(ours["energy"] - theirs["energy"]))
        dgap.append(abs(ours["gap"] - theirs["gap"]))
        size = f"{ours['nao']}" + (f" / {naux[i]}" if naux[i] else "")
        lines.append(
            f"| {smi} | {size} | {s_theirs:.2f} | {s_ours:.2f} | {compile_s[-1]:.1f} | "
            f"{s_theirs / s_ours:.1f}x | {de[-1]:.1e} | {dgap[-1]:.1e} | {split[i]['eri']:.3f} | "
            f"{split[i]['xc']:.3f} | {split[i]['jk']:.3f} | {split[i]['eig']:.3f} | {other:.3f} |")

    def per_hour(wall):
        return 3600 * n / wall

    steady = {code: harness.best_and_spread([wall for _, wall in timed[code]]) for code in CODES}
    walls = {code: [first[code][1]] + [wall for _, wall in timed[code]] for code in CODES}
    (ours_s, ours_spread), (theirs_s, theirs_spread) = steady["dftgen"], steady["pyscf"]
    new = sorted(c for c in compile_s if c >= 1.0)
    lines += [
        "",
        f"**Steady state**, best of {repeats} alternating timed pass(es) per code "
        f"({workers} worker(s) x {threads} thread(s), {n} molecules): PySCF "
        f"{per_hour(theirs_s):,.0f} molecules per hour (slowest pass +{100 * theirs_spread:.0f}%), "
        f"dftgen {per_hour(ours_s):,.0f} (slowest pass +{100 * ours_spread:.0f}%): "
        f"**{theirs_s / ours_s:.2f}x**.",
        "",
        f"**Including compilation** (each code's first pass over these {n} molecules: dftgen "
        f"compiling or reading its cache, PySCF's first runs): PySCF "
        f"{per_hour(first['pyscf'][1]):,.0f}, dftgen {per_hour(first['dftgen'][1]):,.0f} "
        f"molecules per hour: **{first['pyscf'][1] / first['dftgen'][1]:.2f}x**; dftgen's "
        f"compile time {sum(compile_s):.0f} s over all workers, on {len(new)} of {n} molecules "
        f"(>= 1 s; the others reuse a shape bucket compiled before), median "
        f"{statistics.median(new) if new else 0.0:.1f} s on those.",
        "",
        "Molecules per hour of every pass, in the order run (first pass, then the timed ones): "
        + "; ".join(f"{code} " + ", ".join(f"{per_hour(w):,.0f}" for w in walls[code])
                    for code in CODES) + ".",
        "",
        f"|dE| max {max(de):.1e} median {statistics.median(de):.1e} Ha; "
        f"|d gap| max {max(dgap):.1e} median {statistics.median(dgap):.1e} Ha.",
    ]
    return "\n".join(lines) + "\n"


def settings_line(settings: Settings, preset: str) -> str:
    fitted = {"exact": "exact ERIs", "df": "density fitting", "auto": "exact ERIs or fitting"}
    aux = f" ({settings.auxbasis})" if settings.auxbasis else ""
    return (f"preset {preset}: {settings.xc} / {settings.basis} ({settings.shells} shells) / "
            f"grid level {settings.grid_level} / {settings.precision} / {settings.mode} mode "
            f"(max_iter {settings.max_iter}, conv_tol {settings.conv_tol:g}) / "
            f"{fitted[settings.eri]}{aux}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="qm1b", choices=sorted(PRESETS),
                        help="dftgen preset (default qm1b); PySCF runs the same settings")
    parser.add_argument("--xc", help="override the preset's functional (e.g. b3lyp-d3bj)")
    parser.add_argument("--basis", help="override the preset's basis set")
    parser.add_argument("--shells", choices=("spherical", "cartesian", "6d7f"),
                        help="override the preset's shells")
    parser.add_argument("--grid-level", type=int, help="override the preset's grid level")
    parser.add_argument("--eri", choices=ERI_METHODS, help="override the preset's ERI method")
    parser.add_argument("--auxbasis", help="density fitting's auxiliary basis (with --eri df/auto)")
    parser.add_argument("--limit", type=int, default=len(QM1B_LIKE_SMILES),
                        help=f"the first this many molecules (default all {len(QM1B_LIKE_SMILES)})")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="worker processes (default: one per core)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    parser.add_argument("--batch", action="store_true",
                        help="dftgen labels a worker's molecules in one run_dft_batch call")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed passes per code, alternating (default 2)")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    harness.add_cache_option(parser)
    args = parser.parse_args(argv)
    settings = resolve(args.preset, xc=args.xc, basis=args.basis, shells=args.shells,
                       grid_level=args.grid_level, eri=args.eri, auxbasis=args.auxbasis)
    smiles = list(QM1B_LIKE_SMILES[: args.limit])
    workers = min(args.workers, len(smiles))
    cache = harness.use_cache(args.cold_cache)  # before worker_env, which carries the cache
    os.environ.update(worker_env(args.threads))  # inherited by the spawned workers
    from dftgen import Molecule

    notes = [settings_line(settings, args.preset), cache,
             f"protocol: {workers} pinned worker(s) x {args.threads} thread(s), both codes in "
             f"every worker, dftgen {'one run_dft_batch a pass' if args.batch else 'a run_dft a molecule'}; first passes of dftgen then PySCF, then {args.repeats} round(s) of "
             "dftgen pass, PySCF pass (benchmarks/scf.py's docstring)"]
    note = shells_note(Molecule.from_smiles(smiles[0], seed=0), settings)
    notes += [note] if note else []
    title = f"benchmarks/{Path(sys.argv[0]).name}: dftgen against PySCF, preset {args.preset}"
    head = harness.header(title, [sys.argv[0], *(sys.argv[1:] if argv is None else argv)], notes)
    print(head, flush=True)
    cpu = harness.CpuShare()
    report = bench(settings, smiles, workers, args.threads, args.repeats, args.batch)
    text = f"{head}\n{report}\n{cpu.report()}\n"
    print(report + "\n" + cpu.report())
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    hugepages.reexec(sys.argv)
    main()
