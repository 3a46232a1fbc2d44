"""glibc's allocator settings against dftgen's speed and memory: the same molecules run under
each GLIBC_TUNABLES variant, variants alternated (A B A B ...), one process per pass pinned to
one core, single-threaded.

A pass runs each molecule twice to warm (compilation, caches), then `--repeats` times, and
reports the best time per molecule and the process's peak resident memory. The variants:

  * `hugetlb`: transparent huge pages behind malloc, what dftgen set before two arenas;
  * `hugetlb+mmap1M`: the same with glibc's mmap threshold fixed at 1 MiB (glibc raises it
    after every large free, up to 32 MiB, and serves the blocks below it from its heaps) and
    two arenas;
  * `hugetlb+mmap4M`: the threshold fixed at 4 MiB (arenas as glibc's default);
  * `hugetlb+arenas2`: at most two arenas (glibc's default: eight per core), threshold
    dynamic; XLA's threads otherwise each take an arena of their own, whose freed blocks
    other threads do not reuse;
  * `default`: glibc untouched.

    python benchmarks/allocator.py                                   # qm1b, 4 molecules
    python benchmarks/allocator.py --preset accurate --eri df --basis def2-svp --repeats 1 \\
        --rounds 1 --smiles c1ccc2ccccc2c1
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
from molecules import QM1B_LIKE_SMILES  # noqa: E402

VARIANTS = {
    "hugetlb": "glibc.malloc.hugetlb=1",
    "hugetlb+mmap1M": "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576:"
                      "glibc.malloc.arena_max=2",
    "hugetlb+mmap4M": "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304",
    "hugetlb+arenas2": "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2",
    "default": "",
}


def worker(smiles: list[str], preset: str, overrides: dict, repeats: int) -> dict:
    from dftgen import Molecule, run_dft
    from dftgen.presets import resolve

    settings = resolve(preset, **overrides)
    best = []
    for s in smiles:
        mol = Molecule.from_smiles(s, seed=0)
        seconds = []
        for _ in range(2 + repeats):
            start = time.perf_counter()
            run_dft(mol, settings)
            seconds.append(time.perf_counter() - start)
        best.append(min(seconds[2:]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux
    return dict(seconds=best, peak_gib=peak)


def one_pass(variant: str, args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
               GLIBC_TUNABLES=VARIANTS[variant], DFTGEN_HUGEPAGES="off")
    command = ["taskset", "-c", str(args.core), sys.executable, __file__, "--worker",
               "--preset", args.preset, "--repeats", str(args.repeats),
               *(f"--{k}={v}" for k, v in _overrides(args).items()), "--smiles", *args.smiles]
    out = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env)
    if out.returncode:
        return dict(error=f"exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _overrides(args) -> dict:
    return {k: v for k, v in dict(eri=args.eri, basis=args.basis).items() if v}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="qm1b")
    parser.add_argument("--eri")
    parser.add_argument("--basis")
    parser.add_argument("--smiles", nargs="*", default=list(QM1B_LIKE_SMILES[:4]))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=2, help="passes of each variant")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per molecule a pass")
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--out")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.smiles, args.preset, _overrides(args), args.repeats)))
        return
    share = harness.CpuShare()
    passes = harness.alternate(tuple(args.variants), args.rounds, lambda v: one_pass(v, args))
    lines = [harness.header(
        f"glibc allocator settings: preset {args.preset} {_overrides(args) or ''}",
        extra=[f"one process per pass on core {args.core}, one thread; variants alternated, "
               f"{args.rounds} passes each; per molecule the best of {args.repeats} warm runs "
               "(best pass); peak = the largest of the passes' peak resident memory",
               *(f"`{name}`: GLIBC_TUNABLES={VARIANTS[name]!r}" for name in args.variants)]),
        "| variant | " + " | ".join(f"`{s}` s" for s in args.smiles) + " | total s | peak GiB |",
        "|---|" + "---|" * (len(args.smiles) + 2)]
    for variant, results in passes.items():
        done = [r for r in results if "error" not in r]
        if not done:
            lines.append(f"| {variant} | {results[0]['error']} |")
            continue
        best = [min(r["seconds"][i] for r in done) for i in range(len(args.smiles))]
        lines.append(f"| {variant} | " + " | ".join(f"{s:.3f}" for s in best)
                     + f" | {sum(best):.3f} | {max(r['peak_gib'] for r in done):.2f} |")
    lines += ["", share.report()]
    harness.publish(lines, args.out)


if __name__ == "__main__":
    main()
