"""ERI benchmark: dftgen (JAX) against PySCF's libcint, mol.intor("int2e", aosym="s8"), on the
QM1B-like molecules of benchmarks/molecules.py, same thread count, in one run.

Prints a markdown table, one row per molecule: nao; libcint seconds; dftgen seconds in
float64 and float32 (best of `--repeat` calls of the compiled program; compile time apart,
in its own columns) and the ratio libcint / dftgen; the error against libcint (max abs in
float64, relative to max |ERI| in float32); XLA's temporary buffers of the bigger program
against `eri.memory_bound` ("ok" when within); the process's peak RSS; and the time of one
J/K build in float32 from dense and from packed integrals. Wall-clock seconds, with the
process CPU seconds in brackets: on a shared machine the CPU seconds are the steadier number.

    python benchmarks/eri.py --n 12 --basis sto-3g
    python benchmarks/eri.py --n 3 --basis 6-31g*
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from pyscf import lib  # noqa: E402

from molecules import molecules  # noqa: E402

from dftgen.integrals import jk, unpack  # noqa: E402
from dftgen.integrals.eri import DEFAULT_THRESHOLD, _eri_jit, memory_bound  # noqa: E402
from dftgen.integrals.layout import layout_and_arrays  # noqa: E402

CHUNK_BYTES = 4 << 20


def best_of(fn, repeat):
    """(wall, cpu) seconds: the minimum of each over `repeat` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def run(mol, basis, precision, ref, repeat):
    layout, arrays = layout_and_arrays(mol, basis, precision)
    threshold = jnp.asarray(DEFAULT_THRESHOLD[precision], arrays.exponents.dtype)
    args = (layout, arrays, threshold, True, CHUNK_BYTES, True)
    t = time.perf_counter()
    compiled = _eri_jit.lower(*args).compile()
    compile_s = time.perf_counter() - t
    out = compiled(arrays, threshold)
    seconds = best_of(lambda: compiled(arrays, threshold).block_until_ready(), repeat)
    err = float(np.max(np.abs(np.asarray(out, np.float64) - ref)))
    temp = compiled.memory_analysis().temp_size_in_bytes
    return dict(s=seconds, compile=compile_s, err=err, temp=temp,
                bound=memory_bound(layout, precision, CHUNK_BYTES), out=out, nao=layout.nao)


def jk_ms(packed, nao, repeat):
    """Milliseconds (wall) of one jitted jk call from dense and from packed float32 ERIs."""
    dm = jnp.asarray(np.random.default_rng(0).normal(size=(nao, nao)), packed.dtype)
    dense = jax.jit(unpack, static_argnums=1)(packed, nao)
    fn = jax.jit(jk)
    out = []
    for eri in (dense, packed):
        jax.block_until_ready(fn(eri, dm))
        out.append(best_of(lambda: jax.block_until_ready(fn(eri, dm)), repeat)[0] * 1e3)
    return out


def fmt(seconds):
    wall, cpu = seconds
    return f"{wall:.3f} ({cpu:.3f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12, help="number of molecules")
    parser.add_argument("--basis", default="sto-3g")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    lib.num_threads(opts.threads)
    print(f"# {jax.devices()[0].device_kind}, {os.cpu_count()} cores, libcint {opts.threads} threads, "
          f"basis {opts.basis}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}; "
          "seconds: wall (process CPU)")
    head = ("molecule", "nao", "libcint s", "f64 s", "f64 compile s", "f64 ratio", "f64 max err",
            "f32 s", "f32 compile s", "f32 ratio", "f32 err/max", "temp MB / bound MB",
            "peak RSS MB", "J/K f32 ms dense / packed")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    ratios = {"float64": [], "float32": []}
    for mol in molecules(opts.n):
        pm = mol.to_pyscf(opts.basis)
        ref = pm.intor("int2e", aosym="s8")
        libcint = best_of(lambda: pm.intor("int2e", aosym="s8"), opts.repeat)
        r64 = run(mol, opts.basis, "float64", ref, opts.repeat)
        r32 = run(mol, opts.basis, "float32", ref, opts.repeat)
        jk_dense, jk_packed = jk_ms(r32["out"], r32["nao"], opts.repeat)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        temp, bound = max(r64["temp"], r32["temp"]), max(r64["bound"], r32["bound"])
        for prec, r in (("float64", r64), ("float32", r32)):
            ratios[prec].append(libcint[0] / r["s"][0])
        print("| " + " | ".join([
            mol.name, str(pm.nao), fmt(libcint),
            fmt(r64["s"]), f"{r64['compile']:.1f}", f"{libcint[0] / r64['s'][0]:.2f}x", f"{r64['err']:.1e}",
            fmt(r32["s"]), f"{r32['compile']:.1f}", f"{libcint[0] / r32['s'][0]:.2f}x",
            f"{r32['err'] / np.abs(ref).max():.1e}",
            f"{temp / 2**20:.0f} / {bound / 2**20:.0f} " + ("ok" if r64["temp"] <= r64["bound"]
                                                             and r32["temp"] <= r32["bound"] else "OVER"),
            f"{peak:.0f}", f"{jk_dense:.1f} / {jk_packed:.1f}",
        ]) + " |", flush=True)
    for prec, r in ratios.items():
        print(f"# {prec}: libcint / dftgen geometric mean {np.exp(np.mean(np.log(r))):.2f}x "
              f"(min {min(r):.2f}x, max {max(r):.2f}x) over {len(r)} molecules")


if __name__ == "__main__":
    main()
