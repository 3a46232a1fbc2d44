"""A trained DFT-loss network as the SCF's initial guess, against minao: converge-mode SCF
iterations and wall time per molecule, on the held-out conformers and held-out molecules of
the network's own spec (the molecules it never trained on).

Each molecule runs once from each guess to warm (compile) both, then `--repeats` rounds
alternated (minao, network, minao, network, ...); the table gives each code's best pass. The
network's time includes its prediction (features, network, refinement steps).

    python benchmarks/guess.py models/dftloss-qm9-compare/runs/dft-seed0 \\
        --out benchmarks/results/guess-dftloss-qm9.md
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import CpuShare, alternate, header, use_cache  # noqa: E402

from dftgen import run_dft  # noqa: E402
from dftgen.train.dftloss import molecules  # noqa: E402
from dftgen.train.dftloss.evaluate import converge_settings  # noqa: E402
from dftgen.train.dftloss.guess import load  # noqa: E402

CODES = ("minao", "network")
SETS = {"held_out": "held-out conformer", "test": "held-out molecule"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a DFT-loss model directory (model.eqx and spec.json)")
    parser.add_argument("--repeats", type=int, default=2, help="alternated rounds per molecule")
    parser.add_argument("--limit", type=int, help="at most this many molecules of each set")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)

    network = load(args.model)
    settings = converge_settings(network.spec.settings)
    entries = molecules.load(network.spec.data)
    cache = use_cache(False)
    share = CpuShare()
    rows = []
    for name, label in SETS.items():
        for entry in entries[name][:args.limit]:
            mol = entry.mol

            def one_pass(code, mol=mol):
                start = time.perf_counter()
                result = run_dft(mol, settings, guess=network if code == "network" else None)
                return time.perf_counter() - start, result

            first = {code: one_pass(code)[0] for code in CODES}  # compiles each code's programs
            passes = alternate(CODES, args.repeats, one_pass)
            best = {code: min(passes[code], key=lambda p: p[0]) for code in CODES}
            rows.append({"molecule": mol.name, "set": label, "first": first,
                         **{code: best[code] for code in CODES}})
            print(_row(rows[-1]), flush=True)
    extra = [cache, share.report(),
             f"settings: {dataclasses.asdict(settings)}",
             f"network: {args.model} (trained at {network.spec.settings.xc}/{network.spec.settings.basis})"]
    text = "\n".join([header("The DFT-loss network as the initial guess, against minao", extra=extra),
                      _table(rows), "", _summary(rows), ""])
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


def _row(row: dict) -> str:
    (t0, r0), (t1, r1) = row["minao"], row["network"]
    return (f"| {row['molecule']} | {row['set']} | {r0.iterations} | {r1.iterations} | {t0:.3f} | "
            f"{t1:.3f} | {row['first']['minao']:.1f} / {row['first']['network']:.1f} | "
            f"{abs(r1.energy_ha - r0.energy_ha):.1e} |")


def _table(rows: list[dict]) -> str:
    return "\n".join(["| molecule | set | iterations from minao | from the network | minao s | network s "
                      "| first pass s (minao / network) | abs(dE) Ha |", "|---|---|---|---|---|---|---|---|",
                      *(_row(r) for r in rows)])


def _summary(rows: list[dict]) -> str:
    lines = []
    for label in SETS.values():
        part = [r for r in rows if r["set"] == label]
        if not part:
            continue
        it0 = statistics.mean(r["minao"][1].iterations for r in part)
        it1 = statistics.mean(r["network"][1].iterations for r in part)
        t0 = statistics.mean(r["minao"][0] for r in part)
        t1 = statistics.mean(r["network"][0] for r in part)
        lines.append(f"- {label}s ({len(part)}): {it0:.1f} iterations from minao, {it1:.1f} from the "
                     f"network ({100 * (1 - it1 / it0):.0f}% fewer); {t0:.3f} s against {t1:.3f} s a "
                     f"molecule, the prediction included (wall time {100 * (t1 / t0 - 1):+.0f}%).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
