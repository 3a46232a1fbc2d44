"""Where one core's time goes on one molecule: compilation per program from an empty cache, and
the ERI tile programs' steady-state time per class pair.

One process, pinned to one core, JAX's cache in a fresh empty directory:

  * compile: the molecule's first `run_dft`, with the seconds XLA spends compiling each of
    dftgen's programs (`executables` compiles them all) and the seconds around it (tracing,
    lowering, serializing and writing the executable), summed by program name (tile
    programs by class pair and precision: (lx, ly) the bra and ket pair classes' total
    angular momenta);
  * ERI tiles: `--repeats` more runs, each tile-program call timed to its result, summed by
    class pair over the fastest run: calls, the tile pairs and band pairs (pairs of
    primitive-pair bands, `eri.py`) left by screening, and microseconds per band pair.

    python benchmarks/per_core.py --smiles 'CC1=NOC(C)=C1C(N)=O' --preset qm1b --core 0

Timing wraps dftgen's internals (`executables.Program._load_or_compile`,
`eri_stepwise._tile_chunk`) for this process only; the tile calls are blocked on one by one,
so their sum is a little above their share of an unwrapped run.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import os
import shutil
import sys
import tempfile
import threading
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# an empty cache, set before dftgen (imported by harness) reads where its cache is
os.environ["DFTGEN_JAX_CACHE"] = tempfile.mkdtemp(prefix="dftgen-per-core-")
atexit.register(shutil.rmtree, os.environ["DFTGEN_JAX_CACHE"], ignore_errors=True)

import harness  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smiles", default="CC1=NOC(C)=C1C(N)=O")
    parser.add_argument("--preset", default="qm1b")
    parser.add_argument("--repeats", type=int, default=3, help="steady-state runs")
    parser.add_argument("--core", type=int, default=0, help="the core to pin to")
    parser.add_argument("--out", help="also write the report to this file")
    opts = parser.parse_args(argv)
    os.sched_setaffinity(0, {opts.core})
    import numpy as np

    from dftgen import executables, run_dft
    from dftgen.integrals import eri_stepwise
    from dftgen.molecule import Molecule

    compiled = collections.defaultdict(lambda: [0, 0.0, 0.0])  # programs, compile s, all s
    load_or_compile, compile_fresh = executables.Program._load_or_compile, executables._compile_fresh
    current = threading.local()  # the program each thread compiles (they run side by side)

    def named_load_or_compile(program, key, positional, device):
        label = program.name.removeprefix("dftgen.")
        if program.name.endswith("_tile_chunk"):
            label += f" {key[2][:2]} {positional[0].p.dtype}"
        current.label = label
        start = time.perf_counter()
        out = load_or_compile(program, key, positional, device)
        compiled[label][2] += time.perf_counter() - start
        return out

    def timed_compile(lowered):
        start = time.perf_counter()
        out = compile_fresh(lowered)
        entry = compiled[current.label]
        entry[0] += 1
        entry[1] += time.perf_counter() - start
        return out

    tiles = collections.defaultdict(lambda: np.zeros(4))
    tile_chunk = eri_stepwise._tile_chunk

    def timed_tile_chunk(bra, ket, rows, cols, steps, need, *rest):
        start = time.perf_counter()
        out = tile_chunk(bra, ket, rows, cols, steps, need, *rest)
        out[0].block_until_ready()
        key = (rest[1], rest[2], str(bra.p.dtype))
        tiles[key] += (1, np.asarray(need).any(axis=(1, 2)).sum(), np.asarray(need).sum(),
                       time.perf_counter() - start)
        return out

    executables.Program._load_or_compile = named_load_or_compile
    executables._compile_fresh = timed_compile
    mol = Molecule.from_smiles(opts.smiles, seed=0)
    start = time.perf_counter()
    first = run_dft(mol, opts.preset)
    first_s = time.perf_counter() - start
    eri_stepwise._tile_chunk = timed_tile_chunk
    best, best_tiles = float("inf"), None
    for _ in range(opts.repeats):
        tiles.clear()
        start = time.perf_counter()
        run_dft(mol, opts.preset)
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, best_tiles = elapsed, dict(tiles)
    total_compile = sum(v[1] for v in compiled.values())
    total_other = sum(v[2] - v[1] for v in compiled.values())
    lines = [harness.header(f"benchmarks/per_core.py: one core's time on {opts.smiles}, preset "
                            f"{opts.preset}", extra=[
                                "JAX cache: cold (a fresh, empty directory)"]), "",
             f"nao {first.nao}; first run from an empty cache {first_s:.1f} s, of which XLA "
             f"compiling {total_compile:.1f} s ({sum(v[0] for v in compiled.values())} "
             f"programs) and tracing, lowering and storing them {total_other:.1f} s; steady state (best of {opts.repeats}) {best * 1e3:.0f} ms.", "",
             "| program | compiled | compile s | trace, lower, store s |", "|---|---|---|---|"]
    lines += [f"| {name} | {n} | {s:.2f} | {whole - s:.2f} |"
              for name, (n, s, whole) in sorted(compiled.items(), key=lambda kv: -kv[1][1])]
    tile_total = sum(v[3] for v in best_tiles.values())
    lines += ["", f"ERI tile programs in the fastest run: {tile_total * 1e3:.0f} ms of "
              f"{best * 1e3:.0f} ms.", "",
              "| class pair (lx, ly) | precision | calls | tile pairs | band pairs | ms | us per band pair |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| ({lx}, {ly}) | {dtype} | {calls:.0f} | {tp:.0f} | {bp:.0f} | {s * 1e3:.1f} | "
              f"{s / max(bp, 1) * 1e6:.2f} |"
              for (lx, ly, dtype), (calls, tp, bp, s) in
              sorted(best_tiles.items(), key=lambda kv: -kv[1][3])]
    harness.publish(lines, opts.out)


if __name__ == "__main__":
    main()
