"""Command-line arguments that several `dftgen` sub-commands share: a molecule and a preset.

    add_molecule_arguments(parser)      --smiles | --xyz, --seed, --charge, --spin
    molecule_from_args(args)            the Molecule they describe
    add_preset_argument(parser)         --preset, its choices the presets table's names
"""

from __future__ import annotations

import argparse

from dftgen.molecule import Molecule
from dftgen.presets import PRESETS


def add_molecule_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--smiles", help="molecule as a SMILES string (one ETKDGv3 conformer)")
    source.add_argument("--xyz", help="molecule from an xyz file (Angstrom)")
    parser.add_argument("--seed", type=int, default=0, help="conformer seed for --smiles (default 0)")
    parser.add_argument("--charge", type=int, default=0, help="total charge for --xyz (default 0)")
    parser.add_argument("--spin", type=int, default=0, help="unpaired electrons for --xyz (default 0)")


def molecule_from_args(args) -> Molecule:
    if args.smiles is not None:
        return Molecule.from_smiles(args.smiles, seed=args.seed)
    return Molecule.from_xyz(args.xyz, charge=args.charge, spin=args.spin)


def add_preset_argument(parser: argparse.ArgumentParser, default: str = "qm1b") -> None:
    parser.add_argument("--preset", default=default, choices=sorted(PRESETS),
                        help=f"named settings (default {default}; see docs/numerics.md)")
