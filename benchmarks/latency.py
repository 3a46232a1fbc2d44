"""What a first user waits for: `dftgen run` on one molecule in a fresh process, against a
fresh PySCF process on the same geometry and settings, imports included.

Each molecule is written to an xyz file, then two rounds run over all of them:

  * cold: JAX's cache starts empty (`--cold-cache`, the default here). The first molecule
    compiles the programs every molecule shares (integrals by kinds of shell groups) and
    its own shape's; each later one, of another size, only its own shape's (SCF iterations,
    final evaluation);
  * warm: the same commands again, every program read back from the cache.

Within a round each molecule's two processes run one after the other (dftgen, then PySCF),
so the machine's load falls on both alike. Wall-clock seconds of the whole process: the
`dftgen` command installed beside this interpreter, PySCF's imports included.

    python benchmarks/latency.py --n 3 --out benchmarks/results/latency-qm1b-cpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from molecules import molecules  # noqa: E402

from dftgen.presets import PRESETS  # noqa: E402

PYSCF_CHILD = """
import sys
from pyscf import dft
from pyscf.gto import M
path, basis, xc, level, max_cycle = sys.argv[1:6]
mf = dft.RKS(M(atom=path, basis=basis, verbose=0))
mf.xc, mf.grids.level, mf.max_cycle, mf.small_rho_cutoff = xc, int(level), int(max_cycle), 0.0
mf.kernel()
print(mf.e_tot)
"""


def timed_process(command: list[str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one process run to its end."""
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3, help="molecules (default 3)")
    parser.add_argument("--preset", default="qm1b", choices=sorted(PRESETS))
    parser.add_argument("--warm-cache", action="store_true",
                        help="start from dftgen's own cache instead of an empty one")
    parser.add_argument("--out", help="also write the report to this file")
    opts = parser.parse_args()
    cache = harness.use_cache(not opts.warm_cache)
    settings = PRESETS[opts.preset].settings
    folder = tempfile.mkdtemp(prefix="dftgen-latency-")
    mols = molecules(opts.n)
    paths = []
    for k, mol in enumerate(mols):
        paths.append(os.path.join(folder, f"m{k}.xyz"))
        with open(paths[-1], "w") as f:
            f.write(mol.to_xyz())
    # the `dftgen` command a user types (installed beside this interpreter)
    command = os.path.join(os.path.dirname(sys.executable), "dftgen")
    dftgen_cmd = [command, "run", "--preset", opts.preset, "--json", "--xyz"]
    pyscf_cmd = [sys.executable, "-c", PYSCF_CHILD]
    pyscf_args = [settings.basis, settings.xc, str(settings.grid_level), str(settings.max_iter)]
    rows = []
    for round_name in ("cold", "warm"):
        for mol, path in zip(mols, paths):
            dftgen_s, out = timed_process(dftgen_cmd + [path])
            pyscf_s, energy = timed_process(pyscf_cmd + [path] + pyscf_args)
            result = json.loads(out)
            rows.append((round_name, mol.name, result["nao"], dftgen_s, pyscf_s,
                         abs(result["energy_ha"] - float(energy))))
    lines = [harness.header(f"benchmarks/latency.py: a fresh `dftgen run` process against a "
                            f"fresh PySCF process, preset {opts.preset}", extra=[cache]), "",
             "| round | molecule | nao | dftgen run s | PySCF s | dftgen / PySCF | dE (Ha) |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r} | {name} | {nao} | {d:.1f} | {p:.1f} | {d / p:.2f} | {de:.1e} |"
              for r, name, nao, d, p, de in rows]
    harness.publish(lines, opts.out)


if __name__ == "__main__":
    main()
