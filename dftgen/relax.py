"""DFT geometry relaxation of one conformer: ASE's BFGS driven by dftgen's own forces.

Equilibrium datasets (QM9) hold geometries relaxed at their level of theory; the pipeline's
`[conformers] optimize = "dft"` relaxes each conformer with the spec's own settings before it
is labelled.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dftgen.elements import ANGSTROM_BOHR, BOHR_ANGSTROM
from dftgen.molecule import Molecule, MoleculeError
from dftgen.presets import Settings


class RelaxationError(MoleculeError):
    """A relaxation that did not reach its force threshold within its step limit."""


@dataclasses.dataclass(frozen=True)
class Relaxed:
    """The relaxed molecule (positions in Bohr), BFGS steps taken, and the largest atomic
    force left, eV/Angstrom."""

    mol: Molecule
    steps: int
    max_force_ev_ang: float


def relax(mol: Molecule, settings: Settings, max_steps: int, fmax_ev_ang: float) -> Relaxed:
    """BFGS until every atomic force is below fmax_ev_ang (eV/Angstrom, ASE's convention);
    raises RelaxationError after max_steps steps without getting there."""
    from ase import Atoms
    from ase.optimize import BFGS

    from dftgen.ase import DFTGen

    atoms = Atoms(numbers=mol.numbers, positions=np.asarray(mol.positions) * BOHR_ANGSTROM)
    atoms.calc = DFTGen(settings, charge=mol.charge, spin=mol.spin)
    optimizer = BFGS(atoms, logfile=None)
    converged = optimizer.run(fmax=fmax_ev_ang, steps=max_steps)
    max_force = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    if not converged:
        raise RelaxationError(f"molecule {mol.name!r}: DFT relaxation left a force of "
                              f"{max_force:.3g} eV/Angstrom after {max_steps} steps (threshold "
                              f"{fmax_ev_ang} eV/Angstrom)")
    return Relaxed(mol.with_positions(atoms.positions * ANGSTROM_BOHR), int(optimizer.nsteps),
                   max_force)
