"""The `dftgen` command line.

Each sub-command lives in a function `cmd_<name>(args)` registered in `_build_parser`;
`dftgen --help` lists them and `dftgen <name> --help` describes each.
"""

from __future__ import annotations

import argparse
import json
import sys

import dftgen
from dftgen import hugepages
from dftgen.basis import SHELLS
from dftgen.cli_args import add_molecule_arguments, add_preset_argument, molecule_from_args
from dftgen.data.shards import ShardError
from dftgen.extras import MissingExtraError
from dftgen.presets import ERI_METHODS


def cmd_integrals(args) -> int:
    """One-electron integrals of a molecule: a summary of S, T, V and the nuclear repulsion."""
    import numpy as np

    from dftgen import basis as basis_mod
    from dftgen import integrals

    mol = molecule_from_args(args)
    bas = basis_mod.build(mol, args.basis, args.shells)
    s = np.asarray(integrals.overlap(mol, bas, precision=args.precision))
    t = np.asarray(integrals.kinetic(mol, bas, precision=args.precision))
    v = np.asarray(integrals.nuclear(mol, bas, precision=args.precision))
    e_nuc = float(integrals.nuclear_repulsion(mol))
    n_elec = mol.n_electrons
    summary = {
        "molecule": mol.name,
        "natoms": mol.natoms,
        "basis": bas.name,
        "shells": args.shells,
        "nao": bas.nao,
        "precision": args.precision,
        "energy_nuc_ha": e_nuc,
        "trace_overlap": float(np.trace(s)),
        "min_overlap_eigenvalue": float(np.linalg.eigvalsh(s.astype(np.float64)).min()),
        "core_hamiltonian_lowest_ha": float(
            np.linalg.eigvalsh((t + v).astype(np.float64))[0]
        ),
        "n_electrons": n_elec,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            print(f"{key:<{width}}  {value}")
    return 0


def cmd_run(args) -> int:
    """Run restricted Kohn-Sham (or Hartree-Fock with --xc hf) on one molecule."""
    from dftgen.elements import HARTREE_EV
    from dftgen import run_dft

    mol = molecule_from_args(args)
    result = run_dft(
        mol, args.preset, forces=args.forces, basis=args.basis, shells=args.shells, xc=args.xc,
        grid_level=args.grid_level, precision=args.precision, max_iter=args.max_iter,
        mode=args.mode, conv_tol=args.conv_tol, eri=args.eri, auxbasis=args.auxbasis,
        guess=args.guess,
    )
    if args.json:
        print(json.dumps({"molecule": mol.name, **result.to_dict()}))
        return 0
    s = result.settings
    rows = [
        ("molecule", mol.name),
        ("level of theory", f"{s.xc} / {s.basis} ({s.shells} shells) / grid level {s.grid_level} / "
                            f"{s.precision}"),
        ("basis functions (nao)", result.nao),
        ("two-electron integrals", result.two_electron_method
         + (f" ({result.auxbasis})" if result.auxbasis else "")),
        ("total energy", f"{result.energy_ha:.10f} Ha"),
        ("HOMO", f"{result.homo_ha:.6f} Ha  ({result.homo_ha * HARTREE_EV:.4f} eV)"),
        ("LUMO", f"{result.lumo_ha:.6f} Ha  ({result.lumo_ha * HARTREE_EV:.4f} eV)"),
        ("HOMO-LUMO gap", f"{result.gap_ev:.4f} eV"),
        ("dipole", f"{sum(result.dipole_debye**2) ** 0.5:.4f} Debye"),
        ("iterations", f"{result.iterations} ({s.mode} mode, from "
                       f"{'the network ' + args.guess if args.guess else 'minao'})"),
        ("converged", f"{result.converged} (std of last 5 energies "
                      f"{result.energy_std_last5_ev:.2e} eV)"),
        ("wall time", f"{sum(result.timings.values()):.2f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if result.forces_ha_bohr is not None:
        print("forces (Ha/Bohr):")
        for sym, f in zip(mol.symbols, result.forces_ha_bohr):
            print(f"  {sym:<2s} {f[0]:14.8f} {f[1]:14.8f} {f[2]:14.8f}")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dftgen",
        description="QM1B-style quantum-chemistry datasets from a JAX DFT kernel.",
    )
    parser.add_argument("--version", action="version", version=f"dftgen {dftgen.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="a DFT calculation on one molecule", description=cmd_run.__doc__)
    add_molecule_arguments(p)
    add_preset_argument(p)
    p.add_argument("--basis", help="basis set (overrides the preset)")
    p.add_argument("--shells", choices=SHELLS,
                   help="spherical, cartesian, or 6d7f (Cartesian d, spherical f) (overrides)")
    p.add_argument("--xc", help="functional (overrides): b3lyp5, b3lyp, pbe, pbe0, blyp, lda, hf, "
                                "wb97, wb97x, wb97x-d3bj, camb3lyp, "
                                "and *-d3bj of b3lyp, b3lyp5, pbe, pbe0, hf")
    p.add_argument("--grid-level", type=int, help="grid level 0-9 (overrides)")
    p.add_argument("--precision", choices=["float32", "float64"], help="(overrides)")
    p.add_argument("--max-iter", type=int, help="iterations (fixed mode) or cap (converge mode)")
    p.add_argument("--mode", choices=["fixed", "converge"], help="(overrides)")
    p.add_argument("--conv-tol", type=float, help="energy tolerance in Ha for converge mode")
    p.add_argument("--eri", choices=ERI_METHODS,
                   help="exact ERIs, density fitting (df), or df where exact ones do not fit "
                        "(auto) (overrides)")
    p.add_argument("--auxbasis", metavar="NAME",
                   help="auxiliary basis for --eri df/auto (default: PySCF's for the basis)")
    p.add_argument("--forces", action=argparse.BooleanOptionalAction,
                   help="compute forces (Ha/Bohr) or not (default: the preset's: on for qm9, "
                        "ani1x and wb97x-d3bj-def2-svp)")
    p.add_argument("--guess", metavar="MODEL_DIR",
                   help="start the SCF from a trained DFT-loss network's density (default: minao)")
    p.add_argument("--json", action="store_true", help="print one JSON object; keys carry units")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "integrals",
        help="one-electron integrals (S, T, V) and nuclear repulsion of a molecule",
        description=cmd_integrals.__doc__,
    )
    add_molecule_arguments(p)
    p.add_argument("--basis", default="sto-3g", help="basis set name known to PySCF (default sto-3g)")
    p.add_argument("--shells", choices=SHELLS, default="spherical",
                   help="spherical (default), cartesian, or 6d7f (Cartesian d, spherical f)")
    p.add_argument("--precision", choices=["float64", "float32"], default="float64")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_integrals)

    from dftgen.cache_commands import add_commands as add_cache_commands
    from dftgen.device.commands import add_commands as add_device_commands
    from dftgen.pipeline.commands import add_commands as add_pipeline_commands
    from dftgen.train import add_train_parser
    from dftgen.train.dftloss.commands import add_compare_command, add_dftloss_command
    from dftgen.train.schnet.commands import add_commands as add_schnet_commands
    from dftgen.train.schnet.commands import add_train_commands as add_schnet_train_commands

    add_pipeline_commands(sub)
    train = add_train_parser(sub)
    add_schnet_train_commands(train)
    add_dftloss_command(train)
    add_schnet_commands(sub)
    add_compare_command(sub)
    add_device_commands(sub)
    add_cache_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the console script: restart with huge pages before any work
        hugepages.reexec(sys.argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, MissingExtraError, ShardError) as err:  # one line
        print(f"dftgen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
