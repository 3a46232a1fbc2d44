"""From kernel results and failures to shard columns (`dftgen.data.shards.Block`).

Units change here, once: the kernel works in Hartree and Bohr, shards store eV and Bohr
(forces in eV/Bohr), as QM1B.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from dftgen.data.shards import FAILURE_COLUMNS, Block
from dftgen.elements import HARTREE_EV
from dftgen.molecule import Molecule
from dftgen.pipeline.failures import Failure
from dftgen.pipeline.ingest import MoleculeEntry

if TYPE_CHECKING:  # the driver builds blocks of failures without importing the kernel (JAX)
    from dftgen.scf import DFTResult


@dataclasses.dataclass
class MoleculeResult:
    """One molecule's conformers and their results, in conformer order; relaxation holds
    (BFGS steps, largest force left in eV/Angstrom) per conformer when they were relaxed."""

    entry: MoleculeEntry
    seed: int
    conformers: list[Molecule]
    results: list[DFTResult]
    relaxation: list[tuple[int, float]] = dataclasses.field(default_factory=list)


def to_block(done: list[MoleculeResult], failures: list[Failure], forces: bool) -> Block:
    """Shard columns of computed molecules and of failures."""
    block = Block.empty(with_forces=forces)
    rows = [(m, i, mol, r) for m in done for i, (mol, r) in enumerate(zip(m.conformers, m.results))]
    relaxation = [m.relaxation[i] if m.relaxation else (0, np.nan) for m, i, *_ in rows]
    if done:
        block.molecules = {
            "id": np.array([m.entry.id for m in done], np.int64),
            "smiles": np.array([m.entry.smiles for m in done], object),
            "seed": np.array([m.seed for m in done], np.int64),
            "conformer_count": np.array([len(m.results) for m in done], np.int32),
        }
    if rows:
        block.conformers = {
            "molecule_id": np.array([m.entry.id for m, *_ in rows], np.int64),
            "conformer": np.array([i for _, i, *_ in rows], np.int32),
            "energy_ev": np.array([r.energy_ha * HARTREE_EV for *_, r in rows]),
            "dispersion_ev": np.array([r.dispersion_ha * HARTREE_EV for *_, r in rows]),
            "homo_ev": np.array([r.homo_ha * HARTREE_EV for *_, r in rows]),
            "lumo_ev": np.array([r.lumo_ha * HARTREE_EV for *_, r in rows]),
            "gap_ev": np.array([r.gap_ha * HARTREE_EV for *_, r in rows]),
            "converged": np.array([r.converged for *_, r in rows], bool),
            "iterations": np.array([r.iterations for *_, r in rows], np.int32),
            "energy_std_last5_ev": np.array([r.energy_std_last5_ev for *_, r in rows]),
            "nao": np.array([r.nao for *_, r in rows], np.int32),
            "dipole_debye": np.array([np.asarray(r.dipole_debye, float) for *_, r in rows]).reshape(-1, 3),
            "relax_steps": np.array([steps for steps, _ in relaxation], np.int32),
            "relax_max_force_ev_ang": np.array([force for _, force in relaxation], np.float64),
            "atom_count": np.array([mol.natoms for _, _, mol, _ in rows], np.int32),
        }
        block.atoms = {
            "z": np.concatenate([mol.numbers for _, _, mol, _ in rows]).astype(np.int8),
            "positions_bohr": np.concatenate([np.asarray(mol.positions, float) for _, _, mol, _ in rows]),
            "mulliken_charges_e": np.concatenate([np.asarray(r.mulliken_charges, float) for *_, r in rows]),
        }
        if forces:
            block.atoms["forces_ev_bohr"] = np.concatenate(
                [np.asarray(r.forces_ha_bohr, float) * HARTREE_EV for *_, r in rows])
    if failures:
        block.failures = failure_columns(failures)
    return block


def failure_columns(failures: list[Failure]) -> dict[str, np.ndarray]:
    columns = {}
    for name, (dt, _, _) in FAILURE_COLUMNS.items():
        values = [getattr(f, name) for f in failures]
        columns[name] = np.array(values, dtype=object if dt == "str" else dt)
    return columns


def failures_of(block: Block) -> list[Failure]:
    """The failure rows of a block as Failure objects."""
    cols = block.failures
    return [Failure(int(cols["molecule_id"][i]), str(cols["smiles"][i]), int(cols["conformer"][i]),
                    str(cols["stage"][i]), str(cols["error"][i]), bool(cols["retryable"][i]),
                    str(cols["message"][i]))
            for i in range(len(cols["molecule_id"]))]
