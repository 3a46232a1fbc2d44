"""The `dftgen` command line.

Each sub-command lives in a function `cmd_<name>(args)` registered in `_build_parser`;
`dftgen --help` lists them and `dftgen <name> --help` describes each.
"""

from __future__ import annotations

import argparse
import json
import sys

import dftgen


def _add_molecule_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", help="molecule as a SMILES string (one ETKDGv3 conformer)")
    source.add_argument("--xyz", help="molecule from an xyz file (Angstrom)")
    parser.add_argument("--seed", type=int, default=0, help="conformer seed for --smiles (default 0)")
    parser.add_argument("--charge", type=int, default=0, help="total charge for --xyz (default 0)")
    parser.add_argument("--spin", type=int, default=0, help="unpaired electrons for --xyz (default 0)")


def _molecule_from_args(args) -> dftgen.Molecule:
    if args.smiles is not None:
        return dftgen.Molecule.from_smiles(args.smiles, seed=args.seed)
    return dftgen.Molecule.from_xyz(args.xyz, charge=args.charge, spin=args.spin)


def cmd_integrals(args) -> int:
    """One-electron integrals of a molecule: a summary of S, T, V and the nuclear repulsion."""
    import numpy as np

    from dftgen import basis as basis_mod
    from dftgen import integrals

    mol = _molecule_from_args(args)
    bas = basis_mod.build(mol, args.basis)
    s = np.asarray(integrals.overlap(mol, bas, precision=args.precision))
    t = np.asarray(integrals.kinetic(mol, bas, precision=args.precision))
    v = np.asarray(integrals.nuclear(mol, bas, precision=args.precision))
    e_nuc = float(integrals.nuclear_repulsion(mol))
    n_elec = mol.n_electrons
    summary = {
        "molecule": mol.name,
        "natoms": mol.natoms,
        "basis": bas.name,
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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dftgen",
        description="QM1B-style quantum-chemistry datasets from a JAX DFT kernel.",
    )
    parser.add_argument("--version", action="version", version=f"dftgen {dftgen.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "integrals",
        help="one-electron integrals (S, T, V) and nuclear repulsion of a molecule",
        description=cmd_integrals.__doc__,
    )
    _add_molecule_args(p)
    p.add_argument("--basis", default="sto-3g", help="basis set name known to PySCF (default sto-3g)")
    p.add_argument("--precision", choices=["float64", "float32"], default="float64")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_integrals)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:  # bad input: say what and where, no traceback
        print(f"dftgen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
