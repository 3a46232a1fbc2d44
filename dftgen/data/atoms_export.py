"""Export to the formats ML-potential trainers read: extended XYZ and ASE databases.

Each split with conformers becomes one file, `<out>/<split>.extxyz` or `<out>/<split>.db`, one
structure per conformer, in ASE's units: positions in Angstrom, energies in eV, forces in eV/Angstrom,
dipoles in e*Angstrom (about the origin of the positions), charges (Mulliken) in e.

Extended XYZ carries every value twice where trainers disagree on where to look:
  * as ASE calculator results (energy, forces, dipole, charges): what `ase.io.read` returns
    through `atoms.get_potential_energy()` etc., and what NequIP and Allegro map by default;
  * under MACE's default keys REF_energy, REF_forces, REF_dipole, REF_charges.
Each frame's comment line also holds the conformer's identity (molecule_id, conformer,
smiles, split as config_type), its HOMO/LUMO/gap in eV, and a `units` string. Per-atom values
are written with 8 decimals (ASE's extxyz format); per-frame values exactly.

ASE databases hold float64 values exactly, in the layout of schnetpack's `ASEAtomsData`
(properties in each row's data, `_property_unit_dict` and `_distance_unit` in the metadata),
so schnetpack pipelines built on ASE databases read them as they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dftgen.atomic_files import atomic_path
from dftgen.data.dataset import Dataset
from dftgen.elements import BOHR_ANGSTROM, DEBYE_AU

UNITS = {"energy": "eV", "forces": "eV/Ang", "dipole": "e*Ang", "charges": "e",
         "positions": "Ang", "homo": "eV", "lumo": "eV", "gap": "eV"}
UNITS_TEXT = " ".join(f"{k}:{v}" for k, v in UNITS.items())
MACE_KEYS = {"energy": "REF_energy", "forces": "REF_forces", "dipole": "REF_dipole",
             "charges": "REF_charges"}


def conformer_atoms(dataset: Dataset, split: str, chunk_size: int = 4096) -> Iterator:
    """`ase.Atoms` of every conformer of a split, in ASE's units, with its results in a
    SinglePointCalculator and its identity and orbital energies in `atoms.info`."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    for chunk in dataset.split(split).chunks(chunk_size):
        offsets = chunk["atom_offsets"]
        for i in range(len(chunk["energy_ev"])):
            atoms_of = slice(offsets[i], offsets[i + 1])
            atoms = Atoms(numbers=chunk["z"][atoms_of].astype(int),
                          positions=chunk["positions_bohr"][atoms_of] * BOHR_ANGSTROM)
            results = {"energy": float(chunk["energy_ev"][i]),
                       "dipole": chunk["dipole_debye"][i] / DEBYE_AU * BOHR_ANGSTROM,
                       "charges": chunk["mulliken_charges_e"][atoms_of]}
            if "forces_ev_bohr" in chunk:
                results["forces"] = chunk["forces_ev_bohr"][atoms_of] / BOHR_ANGSTROM
            atoms.calc = SinglePointCalculator(atoms, **results)
            atoms.info.update(
                molecule_id=int(chunk["molecule_id"][i]), conformer=int(chunk["conformer"][i]),
                smiles=str(chunk["smiles"][i]), config_type=split,
                homo=float(chunk["homo_ev"][i]), lumo=float(chunk["lumo_ev"][i]),
                gap=float(chunk["gap_ev"][i]), converged=bool(chunk["converged"][i]))
            yield atoms, results


def to_extxyz(dataset: Dataset, out_dir: str | os.PathLike) -> dict[str, int]:
    """Write `<out_dir>/<split>.extxyz` for each split with conformers; returns structures
    written per split."""
    from ase.io import write

    written = {}
    for split, path in _outputs(dataset, out_dir, ".extxyz"):
        written[split] = 0
        with atomic_path(path) as tmp, open(tmp, "w") as f:
            for atoms, results in conformer_atoms(dataset, split):
                atoms.info["units"] = UNITS_TEXT
                for key, ref in MACE_KEYS.items():
                    if key in ("forces", "charges") and key in results:
                        atoms.arrays[ref] = np.asarray(results[key], dtype=np.float64)
                    elif key in results:
                        atoms.info[ref] = results[key]
                write(f, atoms, format="extxyz")
                written[split] += 1
    return written


def to_ase_db(dataset: Dataset, out_dir: str | os.PathLike) -> dict[str, int]:
    """Write `<out_dir>/<split>.db` (ASE SQLite databases, schnetpack's layout) for each split
    with conformers; returns rows written per split."""
    from ase.db import connect

    written = {}
    for split, path in _outputs(dataset, out_dir, ".db"):
        written[split] = 0
        with atomic_path(path) as tmp:
            with connect(tmp, type="db") as db:
                units = {}
                for atoms, results in conformer_atoms(dataset, split):
                    data = {k: np.atleast_1d(np.asarray(v, dtype=np.float64))
                            for k, v in results.items()}
                    data.update({k: np.array([atoms.info[k]]) for k in ("homo", "lumo", "gap")})
                    units = {k: UNITS[k] for k in data}
                    info = {k: atoms.info[k] for k in ("molecule_id", "conformer", "smiles",
                                                      "converged")}
                    atoms.calc = None
                    db.write(atoms, data=data, split=split, **info)
                    written[split] += 1
            with connect(tmp, type="db") as db:
                db.metadata = {"_property_unit_dict": units, "_distance_unit": "Ang",
                               "atomrefs": {}, "units": UNITS_TEXT}
    return written


def _outputs(dataset: Dataset, out_dir, suffix: str) -> list[tuple[str, Path]]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [(split, out_dir / f"{split}{suffix}") for split in dataset.split_names
            if len(dataset.split(split))]
