"""Vxc build time: dftgen.xc.vxc (jitted) against PySCF's NumInt.nr_rks, same molecules and threads.

For each QM1B-like molecule (benchmarks/molecules.py), STO-3G, B3LYP5, grid levels 0 and 3,
with the minao guess density, one run:

  pyscf ms     nr_rks on PySCF's grid (it evaluates the AOs inside, every call)
  f64/f32 ms   dftgen vxc on dftgen's grid with AO values computed beforehand, as the SCF uses
               it (the AOs of a geometry are computed once and reused by all iterations)
  ao ms        dftgen's AO values with gradients (float64), once per geometry
  compile s    first call of vxc minus a compiled call (float64), reported apart
  |dE|         |E_xc(dftgen, float64) - E_xc(PySCF)| in Hartree

Times are the best of `--repeat` calls. Usage:
    .venv/bin/python benchmarks/xc.py [--n 24] [--threads 1] [--levels 0 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="first n molecules (default all)")
    parser.add_argument("--threads", type=int, default=1, help="threads for PySCF and XLA")
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 3])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--xc", default="b3lyp5")
    parser.add_argument("--basis", default="sto-3g")
    return parser.parse_args()


def set_threads(n: int) -> None:
    """Same thread count for both sides; must run before numpy/PySCF/JAX are imported."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    eigen = "true" if n > 1 else "false"
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={n}"
    )


def best_time(fn, repeat: int) -> float:
    """Best wall time of `repeat` calls, in seconds; fn must block until its result is ready."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    args = parse_args()
    set_threads(args.threads)

    import jax
    import numpy as np
    from pyscf import dft, lib

    sys.path.insert(0, os.path.dirname(__file__))
    from molecules import QM1B_LIKE_SMILES, molecules

    from dftgen import basis, grids
    from dftgen.xc import vxc

    lib.num_threads(args.threads)
    mols = molecules(args.n)
    print(f"# xc={args.xc} basis={args.basis} threads={args.threads} jax={jax.__version__} "
          f"device={jax.devices()[0].device_kind}")
    header = ("smiles", "nao", "level", "npts", "pyscf ms", "f64 ms", "ratio", "f32 ms", "ratio",
              "ao ms", "compile s", "|dE| Ha")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    ratios = {level: [] for level in args.levels}
    for smiles, mol in zip(QM1B_LIKE_SMILES, mols):
        pmol = mol.to_pyscf(args.basis)
        dm = dft.RKS(pmol).get_init_guess()
        bas = basis.build(mol, args.basis)
        for level in args.levels:
            pgrids = dft.gen_grid.Grids(pmol)
            pgrids.level = level
            pgrids.build()
            ni = dft.numint.NumInt()
            _, e_ref, _ = ni.nr_rks(pmol, pgrids, args.xc, dm)
            t_pyscf = best_time(lambda: ni.nr_rks(pmol, pgrids, args.xc, dm), args.repeat)

            grid = grids.build(mol, level)
            ao64 = jax.block_until_ready(grids.ao_values(mol, bas, grid.points, deriv=1))
            t_ao = best_time(lambda: jax.block_until_ready(
                grids.ao_values(mol, bas, grid.points, deriv=1)), args.repeat)
            timings = {}
            for precision in ("float64", "float32"):
                ao = ao64.astype(np.float32) if precision == "float32" else ao64

                def call():
                    return jax.block_until_ready(
                        vxc(args.xc, ao, grid.weights, dm, precision=precision))

                start = time.perf_counter()
                result = call()
                first = time.perf_counter() - start
                timings[precision] = best_time(call, args.repeat)
                if precision == "float64":
                    compile_s = first - timings[precision]
                    de = abs(float(result[1]) - e_ref)
            ratios[level].append(t_pyscf / timings["float64"])
            row = (smiles, bas.nao, level, grid.size, f"{1e3 * t_pyscf:.1f}",
                   f"{1e3 * timings['float64']:.1f}", f"{t_pyscf / timings['float64']:.2f}",
                   f"{1e3 * timings['float32']:.1f}", f"{t_pyscf / timings['float32']:.2f}",
                   f"{1e3 * t_ao:.1f}", f"{compile_s:.2f}", f"{de:.1e}")
            print("| " + " | ".join(str(x) for x in row) + " |", flush=True)
    for level, r in ratios.items():
        print(f"# level {level}: PySCF / dftgen float64, geometric mean over {len(r)} molecules: "
              f"{float(np.exp(np.mean(np.log(r)))):.2f}")


if __name__ == "__main__":
    main()
