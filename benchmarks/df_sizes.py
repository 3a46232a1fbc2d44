"""Density fitting by molecule size: B3LYP / def2-SVP / level 3 / float64 (the accurate preset
with eri="df" and basis def2-SVP, converge mode) against PySCF's `density_fit()` with the same
auxiliary basis, at about 10, 20, 30 and 40 heavy atoms; wall time and peak resident memory
of each code.

Each code runs in a process of its own, pinned to a core of its own, single-threaded, both
at once on the same molecule (peak memory is the process's own, imports included), both
with the glibc tunables `dftgen` sets for itself (`dftgen/hugepages.py`). dftgen runs the
molecule `--repeats` times: the first run compiles the molecule's new shapes (its time is
reported as is), the best later one is steady state. PySCF runs once after a warm-up
on water, with its default max_memory (4,000 MB) plus its resident memory at the start:
where its fitted tensor is larger, PySCF keeps it on disk (as its users get it); dftgen
does the same past a quarter of the machine's memory (`dftgen.scf.problem.FITTED_ERI_BYTES`).

    python benchmarks/df_sizes.py --out benchmarks/results/df-sizes-cpu-avx2.md
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

from dftgen import hugepages  # noqa: E402

MOLECULES = {  # heavy atoms -> SMILES
    10: "c1ccc2ccccc2c1",  # naphthalene
    20: "COc1ccc(CCNC(=O)c2ccc(O)cc2)cc1",
    31: "CC(C)CC(NC(=O)C(Cc1ccccc1)NC(=O)OC)C(=O)NCc1ccccc1",
    40: "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccccc2)n1CCC(O)CC(O)CC(=O)O",  # desfluoro-atorvastatin
}
OVERRIDES = dict(eri="df", basis="def2-svp", mode="converge", precision="float64")


def _settings():
    from dftgen.presets import resolve

    return resolve("accurate", **OVERRIDES)


def dftgen_worker(smiles: str, repeats: int) -> dict:
    import jax

    from dftgen import Molecule, run_dft
    from dftgen.integrals import df

    mol = Molecule.from_smiles(smiles, seed=0)
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run_dft(mol, _settings())
        seconds.append(time.perf_counter() - start)
    jax.clear_caches()
    t = result.timings
    return dict(seconds=seconds, energy=result.energy_ha, nao=result.nao,
                naux=df.auxiliary_basis(mol, OVERRIDES["basis"]).nao, timings={k: round(v, 1) for k, v in t.items()},
                peak_gib=_peak_gib())


def pyscf_worker(smiles: str) -> dict:
    from pyscf_rks import pyscf_run

    from dftgen import Molecule
    from dftgen.integrals import df

    settings = _settings()
    mol = Molecule.from_smiles(smiles, seed=0)
    auxbasis = df.default_auxbasis(mol, settings.basis)
    pyscf_run(Molecule.from_smiles("O", seed=0), settings, auxbasis)  # warm
    seconds, energy, _ = pyscf_run(mol, settings, auxbasis)
    return dict(seconds=[seconds], energy=energy, peak_gib=_peak_gib())


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def _launch(core: int, args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    if hugepages.wanted():  # glibc's settings `dftgen` runs with, for both codes
        env["GLIBC_TUNABLES"] = hugepages.tunables()
    return subprocess.Popen(["taskset", "-c", str(core), sys.executable, __file__, *args],
                            stdout=subprocess.PIPE, text=True, env=env)


def _collect(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        return dict(error=f"exit {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=sorted(MOLECULES))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out")
    parser.add_argument("--worker", choices=["dftgen", "pyscf"], help=argparse.SUPPRESS)
    parser.add_argument("--smiles", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = (dftgen_worker(args.smiles, args.repeats) if args.worker == "dftgen"
                  else pyscf_worker(args.smiles))
        print(json.dumps(result))
        return
    lines = [harness.header("Density fitting by size: B3LYP / def2-SVP / level 3, float64",
                            extra=["each code in its own process on its own core, both at "
                                   "once; peak = the process's maximum resident memory"]),
             "| heavy atoms | nao / naux | dftgen first run s | dftgen steady s | PySCF s | "
             "dftgen peak GiB | PySCF peak GiB | dE Ha | dftgen phases (steady run) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for size in args.sizes:
        smiles = MOLECULES[size]
        ours = _launch(0, ["--worker", "dftgen", "--smiles", smiles, "--repeats",
                           str(args.repeats)])
        theirs = _collect(_launch(1, ["--worker", "pyscf", "--smiles", smiles]))
        ours = _collect(ours)
        if "error" in ours or "error" in theirs:  # exit -9: killed, out of memory
            pyscf = theirs.get("error") or f"{theirs['seconds'][0]:.1f}"
            pyscf_peak = "" if "error" in theirs else f"{theirs['peak_gib']:.2f}"
            lines.append(f"| {size} | | {ours.get('error', '')} | | {pyscf} | | {pyscf_peak} | | |")
            print(lines[-1], flush=True)
            continue
        steady = min(ours["seconds"][1:]) if len(ours["seconds"]) > 1 else float("nan")
        phases = ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in ours["timings"].items())
        lines.append(f"| {size} | {ours['nao']} / {ours['naux']} | {ours['seconds'][0]:.1f} | "
                     f"{steady:.1f} | {theirs['seconds'][0]:.1f} | {ours['peak_gib']:.2f} | "
                     f"{theirs['peak_gib']:.2f} | {abs(ours['energy'] - theirs['energy']):.1e} | "
                     f"{phases} |")
        print(lines[-1], flush=True)
    harness.publish(lines, args.out)


if __name__ == "__main__":
    main()
