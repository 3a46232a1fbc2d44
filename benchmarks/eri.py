"""ERI benchmark: dftgen (JAX) against PySCF's libcint, mol.intor("int2e", aosym="s8"), on the
QM1B-like molecules of benchmarks/molecules.py, on the same cores (`--threads`), in one run.

Like for like: libcint's intor evaluates every shell quartet (it has no Schwarz screening
there; it drops only primitive pairs below exp(-60)), while dftgen skips the primitive
quartets whose Schwarz bound is below its threshold (1e-10 in float64, 1e-7 in float32).
So dftgen's one-program path (`eri._eri_jit`, one program per molecule shape, what forces
differentiate) is timed twice per precision: screened and unscreened (the same work as
libcint), and each row gives the threshold and the fraction of dftgen's primitive quartets
the screening skips (`dftgen.integrals.eri.skipped_fraction`; of the quartets the unscreened
program evaluates) beside the ratios. The first columns time what the SCF runs: the float64
screened ERIs through the programs every molecule size shares (`eri_packed_stepwise`; its
first call compiles them on the first molecule, or reads them back).

Per molecule: dftgen's four one-program programs are compiled first (untimed; compile seconds
reported from a JAX cache whose state the header gives, `--cold-cache` for a fresh one) and
each is run once, the shared-program path once, and libcint once untimed (its result is the
reference); then `--repeats` rounds of a dftgen pass (the five) and a libcint pass
alternate, and each code's
best pass is reported with the spread ("+x%": its slowest pass against the best). Wall-clock
seconds. Also: the error against libcint (max abs in float64, relative to max |ERI| in
float32); XLA's temporary buffers of the larger program against `eri.memory_bound` ("ok"
when within); the process's peak RSS; one float32 J/K build from dense and packed integrals.

    python benchmarks/eri.py --n 12 --basis sto-3g
    python benchmarks/eri.py --n 12 --threads 1          # one core each, steadier on a shared box
    python benchmarks/eri.py --n 3 --basis 6-31g* --out benchmarks/results/eri-631gs.md
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from typing import Callable, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from pyscf import lib  # noqa: E402

from molecules import molecules  # noqa: E402

from dftgen import compilation_cache  # noqa: E402
from dftgen.integrals import jk, unpack  # noqa: E402
from dftgen.integrals.eri import DEFAULT_THRESHOLD, _eri_jit, memory_bound, skipped_fraction  # noqa: E402
from dftgen.integrals.eri_stepwise import eri_packed_stepwise  # noqa: E402
from dftgen.integrals.layout import layout_and_arrays  # noqa: E402

CHUNK_BYTES = 4 << 20
PRECISIONS = ("float64", "float32")
PROGRAMS = tuple((precision, screened) for precision in PRECISIONS for screened in (True, False))
SHARED = ("float64", "shared")  # the SCF's path: `eri_packed_stepwise`


class Program(NamedTuple):
    """One of dftgen's ERI programs for one molecule, compiled."""

    call: Callable[[], jnp.ndarray]  # runs it and waits for the packed ERIs
    compile_s: float
    temp_bytes: int  # XLA's temporary buffers
    bound_bytes: int  # eri.memory_bound


def compiled_program(mol, basis: str, precision: str, screened: bool) -> Program:
    layout, arrays = layout_and_arrays(mol, basis, precision)
    threshold = jnp.asarray(DEFAULT_THRESHOLD[precision], arrays.exponents.dtype)
    start = time.perf_counter()
    compiled = _eri_jit.lower(layout, arrays, threshold, screened, CHUNK_BYTES, True, 0.0).compile()
    compile_s = time.perf_counter() - start
    return Program(lambda: compiled(arrays, threshold).block_until_ready(), compile_s,
                   compiled.memory_analysis().temp_size_in_bytes,
                   memory_bound(layout, precision, CHUNK_BYTES))


def shared_programs(mol, basis: str) -> Callable[[], np.ndarray]:
    """The float64 screened ERIs as the SCF computes them: `eri_packed_stepwise`, whose
    programs every molecule size shares (compiled by the first molecule, or read back)."""
    layout, arrays = layout_and_arrays(mol, basis, "float64")
    return lambda: eri_packed_stepwise(layout, arrays, DEFAULT_THRESHOLD["float64"], CHUNK_BYTES)


def timed(fn) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def jk_ms(packed, nao, repeat):
    """Milliseconds (wall, best of `repeat`) of one jitted jk call from dense and from packed
    float32 ERIs."""
    dm = jnp.asarray(np.random.default_rng(0).normal(size=(nao, nao)), packed.dtype)
    dense = jax.jit(unpack, static_argnums=1)(packed, nao)
    fn = jax.jit(jk)
    out = []
    for eri in (dense, packed):
        jax.block_until_ready(fn(eri, dm))
        out.append(min(timed(lambda: jax.block_until_ready(fn(eri, dm))) for _ in range(repeat)) * 1e3)
    return out


def measure(mol, basis: str, repeats: int) -> dict:
    """One molecule: dftgen's programs compiled and run once, libcint run once (untimed:
    its result is the reference), then `repeats` alternating passes of dftgen and libcint."""
    pm = mol.to_pyscf(basis)
    ref = pm.intor("int2e", aosym="s8")
    programs = {key: compiled_program(mol, basis, *key) for key in PROGRAMS}
    first = {key: program.call() for key, program in programs.items()}
    shared = shared_programs(mol, basis)
    shared_first_s = timed(shared)

    def one_pass(code):
        if code == "libcint":
            return timed(lambda: pm.intor("int2e", aosym="s8"))
        return {**{key: timed(program.call) for key, program in programs.items()},
                SHARED: timed(shared)}

    passes = harness.alternate(("dftgen", "libcint"), repeats, one_pass)
    libcint = harness.best_and_spread(passes["libcint"])
    dftgen = {key: harness.best_and_spread([p[key] for p in passes["dftgen"]])
              for key in PROGRAMS + (SHARED,)}
    scale = {"float64": 1.0, "float32": float(np.abs(ref).max())}  # float32: relative error
    errors = {precision: float(np.max(np.abs(np.asarray(first[precision, True], np.float64) - ref)))
              / scale[precision] for precision in PRECISIONS}
    return {"nao": pm.nao, "libcint": libcint, "dftgen": dftgen, "programs": programs,
            "shared_first_s": shared_first_s,
            "errors": errors, "f32": first["float32", True],
            "skipped": {p: skipped_fraction(mol, basis, p) for p in PRECISIONS}}


def fmt(best_and_spread) -> str:
    best, spread = best_and_spread
    return f"{best:.3f} +{100 * spread:.0f}%"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=12, help="number of molecules (default 12)")
    parser.add_argument("--basis", default="sto-3g")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="cores for both codes (default: all): the process is pinned to "
                             "that many, which sizes XLA's thread pool, and libcint runs as "
                             "many OpenMP threads")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes per code and molecule, alternating (default 3)")
    parser.add_argument("--out", help="also write the report to this file")
    harness.add_cache_option(parser)
    opts = parser.parse_args()
    # before JAX's CPU client exists (the first jax.devices()), which sizes its pool from this
    cores = sorted(os.sched_getaffinity(0))[: opts.threads]
    os.sched_setaffinity(0, cores)
    cache = harness.use_cache(opts.cold_cache)
    compilation_cache.enable()
    lib.num_threads(len(cores))
    head = harness.header(
        "benchmarks/eri.py: dftgen's ERIs against libcint's", extra=[
            f"basis {opts.basis}; the process pinned to core(s) {', '.join(map(str, cores))}: "
            f"libcint (PySCF intor int2e, s8) on {len(cores)} OpenMP thread(s), JAX "
            f"{jax.devices()[0].device_kind} with the thread pool XLA sizes from them",
            cache,
            f"protocol: per molecule, both codes run once untimed (dftgen after compiling its 4 "
            f"programs), then {opts.repeats} round(s) of a dftgen pass (float64 screened, "
            "unscreened, float32 screened, unscreened) and a libcint pass; best pass per code, "
            "+x%: its slowest pass; wall seconds",
            f"screening: dftgen's default Schwarz thresholds, {DEFAULT_THRESHOLD['float64']:g} "
            f"(float64) and {DEFAULT_THRESHOLD['float32']:g} (float32); 'skipped': the "
            "fraction of the unscreened program's primitive quartets the screened one leaves "
            "out; libcint screens nothing here, so 'unscreened' is the like-for-like ratio"])
    print(head, flush=True)
    cpu = harness.CpuShare()
    columns = ["molecule", "nao", "libcint s", "f64 screened, shared programs s",
               "libcint / shared", "shared first call s"]
    for precision in PRECISIONS:
        p = precision[-2:]
        columns += [f"f{p} screened s", f"f{p} unscreened s",
                    f"f{p} skipped at {DEFAULT_THRESHOLD[precision]:g}",
                    f"f{p} libcint / dftgen, screened / unscreened", f"f{p} compile s screened / unscreened",
                    "f64 max err" if p == "64" else "f32 err / max"]
    columns += ["temp MB / bound MB", "peak RSS MB", "J/K f32 ms dense / packed"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    print("\n".join(lines), flush=True)
    ratios = {key: [] for key in PROGRAMS + (SHARED,)}
    skipped = {p: [] for p in PRECISIONS}
    for mol in molecules(opts.n):
        r = measure(mol, opts.basis, opts.repeats)
        jk_dense, jk_packed = jk_ms(r["f32"], r["nao"], opts.repeats)
        ratios[SHARED].append(r["libcint"][0] / r["dftgen"][SHARED][0])
        cells = [mol.name, str(r["nao"]), fmt(r["libcint"]), fmt(r["dftgen"][SHARED]),
                 f"{ratios[SHARED][-1]:.2f}x", f"{r['shared_first_s']:.1f}"]
        for precision in PRECISIONS:
            screened, unscreened = (precision, True), (precision, False)
            for key in (screened, unscreened):
                ratios[key].append(r["libcint"][0] / r["dftgen"][key][0])
            skipped[precision].append(r["skipped"][precision])
            cells += [fmt(r["dftgen"][screened]), fmt(r["dftgen"][unscreened]),
                      f"{100 * r['skipped'][precision]:.0f}%",
                      f"{ratios[screened][-1]:.2f}x / {ratios[unscreened][-1]:.2f}x",
                      f"{r['programs'][screened].compile_s:.1f} / {r['programs'][unscreened].compile_s:.1f}",
                      f"{r['errors'][precision]:.1e}"]
        programs = r["programs"].values()
        temp, bound = max(p.temp_bytes for p in programs), max(p.bound_bytes for p in programs)
        within = all(p.temp_bytes <= p.bound_bytes for p in programs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cells += [f"{temp / 2**20:.0f} / {bound / 2**20:.0f} {'ok' if within else 'OVER'}",
                  f"{peak:.0f}", f"{jk_dense:.1f} / {jk_packed:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    summary = [""]
    for (precision, screened), r in ratios.items():
        kind = {True: "screened", False: "unscreened", "shared": "screened, shared programs "
                "(what the SCF runs)"}[screened]
        summary.append(
            f"- {precision} {kind}: libcint / dftgen geometric "
            f"mean **{np.exp(np.mean(np.log(r))):.2f}x** (min {min(r):.2f}x, max {max(r):.2f}x) "
            f"over {len(r)} molecules" + (f"; screening skipped {100 * min(skipped[precision]):.0f}-"
                                          f"{100 * max(skipped[precision]):.0f}% of the quartets"
                                          if screened is True else ""))
    summary += ["", cpu.report()]
    print("\n".join(summary))
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(head + "\n" + "\n".join(lines + summary) + "\n")


if __name__ == "__main__":
    main()
