"""ERI benchmark: dftgen (JAX) against PySCF's libcint, mol.intor("int2e", aosym="s8"), on the
QM1B-like molecules of benchmarks/molecules.py, same thread count, in one run.

Prints per molecule: nao, libcint seconds, dftgen seconds (float64, float32; compile time
apart), the ratio, max |error|, XLA's temporary buffer size against the documented working-
memory bound (eri.py docstring), and the process's peak RSS.

    python benchmarks/eri.py --n 10 --basis sto-3g
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
import numpy as np  # noqa: E402
from pyscf import lib  # noqa: E402

from molecules import molecules  # noqa: E402

from dftgen.integrals.eri import DEFAULT_THRESHOLD, _eri_jit, n_packed  # noqa: E402
from dftgen.integrals.layout import prepare  # noqa: E402

CHUNK_BYTES = 32 << 20


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run(mol, basis, precision, ref):
    layout, arrays = prepare(mol, basis, precision)
    args = (layout, arrays, DEFAULT_THRESHOLD[precision], CHUNK_BYTES, True)
    t = time.perf_counter()
    compiled = _eri_jit.lower(*args).compile()
    compile_s = time.perf_counter() - t
    out = compiled(arrays)
    seconds = best_of(lambda: compiled(arrays).block_until_ready(), 3)
    err = float(np.max(np.abs(np.asarray(out, np.float64) - ref)))
    temp = compiled.memory_analysis().temp_size_in_bytes
    itemsize = np.dtype(precision).itemsize
    bound = 5 * n_packed(layout.nao) * itemsize + 4 * CHUNK_BYTES  # packed + blocks + chunk work
    return seconds, compile_s, err, temp, bound


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="number of molecules")
    parser.add_argument("--basis", default="sto-3g")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    opts = parser.parse_args()
    lib.num_threads(opts.threads)
    print(f"# {jax.devices()[0].device_kind}, {opts.threads} threads, basis {opts.basis}, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    head = ("molecule", "nao", "libcint s", "f64 s", "f64 compile s", "f64 ratio", "f64 max err",
            "f32 s", "f32 compile s", "f32 ratio", "f32 err/max", "temp MB (bound)", "peak RSS MB")
    print(" | ".join(head))
    for mol in molecules(opts.n):
        pm = mol.to_pyscf(opts.basis)
        ref = pm.intor("int2e", aosym="s8")
        libcint = best_of(lambda: pm.intor("int2e", aosym="s8"), 3)
        r64 = run(mol, opts.basis, "float64", ref)
        r32 = run(mol, opts.basis, "float32", ref)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(" | ".join([
            mol.name, str(pm.nao), f"{libcint:.3f}",
            f"{r64[0]:.3f}", f"{r64[1]:.1f}", f"{libcint / r64[0]:.2f}x", f"{r64[2]:.1e}",
            f"{r32[0]:.3f}", f"{r32[1]:.1f}", f"{libcint / r32[0]:.2f}x", f"{r32[2] / np.abs(ref).max():.1e}",
            f"{max(r64[3], r32[3]) / 2**20:.0f} ({max(r64[4], r32[4]) / 2**20:.0f})"
            + ("" if max(r64[3] - r64[4], r32[3] - r32[4]) <= 0 else " OVER"),
            f"{peak:.0f}",
        ]), flush=True)


if __name__ == "__main__":
    main()
