"""The `qm9` preset against QM9's published labels, at QM9's own geometries.

For each QM9 molecule (qm9pack's files; 1-based QM9 indices) dftgen runs the qm9 preset
(B3LYP/6-31G(2df,p), Cartesian d and spherical f as Gaussian 09 did, grid level 3, converged
in float64) and compares the total energy with QM9's U0 - ZPVE and the HOMO and LUMO with
QM9's (given to 1e-4 Ha). `--explain` adds, for each molecule, the same calculation with
spherical and with all-Cartesian shells and at grid level 5, which separates the effect of the
shells from that of the grid. Prints a Markdown table and the distribution (max, median, mean
of |d|); `--out FILE` writes it.

    python benchmarks/qm9_labels.py                       # QM9's first 12 molecules
    python benchmarks/qm9_labels.py --indices 1 2 3 --explain
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import header  # noqa: E402

from dftgen import run_dft  # noqa: E402
from dftgen.pipeline.qm9_labels import qm9_labels  # noqa: E402
from dftgen.presets import PRESETS, level_of_theory  # noqa: E402

# QM9's first 12: methane to acetaldehyde and formamide (C, N, O; single to triple bonds)
DEFAULT_INDICES = tuple(range(1, 13))
VARIANTS = {"spherical": dict(shells="spherical"), "cartesian": dict(shells="cartesian"),
            "grid 5": dict(grid_level=5)}


def compare(label, **overrides) -> dict:
    """dftgen at the qm9 preset (with overrides) minus QM9's label, Hartree."""
    start = time.perf_counter()
    result = run_dft(label.molecule, "qm9", forces=False, **overrides)
    return {"dE": result.energy_ha - label.energy_ha, "dHOMO": result.homo_ha - label.homo_ha,
            "dLUMO": result.lumo_ha - label.lumo_ha, "eri": result.two_electron_method,
            "nao": result.nao, "iterations": result.iterations,
            "seconds": time.perf_counter() - start}


def table(labels, rows, explain: bool) -> list[str]:
    head = "| QM9 | SMILES | nao | ERIs | dE (Ha) | dHOMO (Ha) | dLUMO (Ha) |"
    extra = [f" dE {name} (Ha) |" for name in VARIANTS] if explain else []
    lines = [head + "".join(extra), "|---" * (7 + len(extra)) + "|"]
    for label, row in zip(labels, rows):
        cells = (f"| {label.index} | `{label.smiles}` | {row['nao']} | {row['eri']} | "
                 f"{row['dE']:+.2e} | {row['dHOMO']:+.1e} | {row['dLUMO']:+.1e} |")
        if explain:
            cells += "".join(f" {row[name]['dE']:+.2e} |" for name in VARIANTS)
        lines.append(cells)
    lines.append("")
    for key in ("dE", "dHOMO", "dLUMO"):
        values = [abs(r[key]) for r in rows]
        lines.append(f"- |{key}|: max {max(values):.2e}, median {statistics.median(values):.2e}, "
                     f"mean {statistics.fmean(values):.2e} Ha")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indices", type=int, nargs="+", default=list(DEFAULT_INDICES))
    parser.add_argument("--explain", action="store_true",
                        help="also spherical, all-Cartesian shells and grid level 5")
    parser.add_argument("--out", type=Path, help="write the Markdown here")
    args = parser.parse_args(argv)
    try:
        labels = qm9_labels(args.indices)
    except KeyError as err:
        parser.error(err.args[0])
    rows = []
    for label in labels:
        row = compare(label)
        if args.explain:
            row.update({name: compare(label, **o) for name, o in VARIANTS.items()})
        print(f"qm9:{label.index} {label.smiles}: dE {row['dE']:+.2e} dHOMO {row['dHOMO']:+.1e} "
              f"dLUMO {row['dLUMO']:+.1e} ({row['iterations']} iterations, {row['seconds']:.0f} s)",
              flush=True)
        rows.append(row)
    preset = PRESETS["qm9"]
    lines = [
        header("The qm9 preset against QM9's labels", [sys.argv[0], *(argv or sys.argv[1:])],
               [f"{level_of_theory(preset.settings)}; {preset.provenance}",
                "QM9's electronic energy is U0 - ZPVE; HOMO and LUMO are given to 1e-4 Ha"]),
        *table(labels, rows, args.explain),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
