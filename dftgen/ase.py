"""An ASE calculator: dftgen's DFT for `ase.Atoms`, in ASE's units.

    from dftgen.ase import DFTGen
    atoms.calc = DFTGen(preset="qm1b", mode="converge", precision="float64")
    atoms.get_potential_energy()       # eV
    atoms.get_forces()                 # eV/Angstrom, -dE/dR
    ase.optimize.BFGS(atoms).run(fmax=1e-3)

Every setting of a preset can be overridden by keyword, as in `dftgen.run_dft`. The compiled
programs depend on a molecule's shape only (its elements and basis), so the steps of an
optimisation or a molecular-dynamics run reuse them instead of compiling again. Unit
conversions use the constants of `dftgen.elements` (PySCF's), so the energies equal those of
`run_dft` and of the shards digit for digit.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from dftgen.api import run_dft
from dftgen.elements import ANGSTROM_BOHR, BOHR_ANGSTROM, DEBYE_AU, HARTREE_EV
from dftgen.molecule import Molecule
from dftgen.presets import Settings, resolve


class DFTGen(Calculator):
    """Restricted Kohn-Sham (or Hartree-Fock) energies, forces, dipoles and Mulliken charges.

    Args:
        preset: a preset name ("qm1b", "accurate", ...) or a Settings object.
        charge: total charge in e.
        spin: unpaired electrons (2S); the SCF is restricted, so 0.
        device: as `dftgen.run_dft`'s (None: JAX's default backend).
        **settings: overrides of the preset (basis, xc, grid_level, precision, mode, ...).

    Results: energy and free_energy in eV, forces in eV/Angstrom (natoms, 3), dipole in
    e*Angstrom (3,) about the origin, charges in e (natoms,).
    """

    implemented_properties = ["energy", "free_energy", "forces", "dipole", "charges"]

    def __init__(self, preset: str | Settings = "qm1b", *, charge: int = 0, spin: int = 0,
                 device=None, **settings):
        super().__init__()
        self.settings = resolve(preset, **settings)
        self.charge, self.spin, self.device = charge, spin, device

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        mol = Molecule(numbers=self.atoms.numbers,
                       positions=np.asarray(self.atoms.positions) * ANGSTROM_BOHR,
                       charge=self.charge, spin=self.spin,
                       name=self.atoms.get_chemical_formula())
        result = run_dft(mol, self.settings, forces="forces" in properties, device=self.device)
        energy = result.energy_ha * HARTREE_EV
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "dipole": result.dipole_debye / DEBYE_AU * BOHR_ANGSTROM,
            "charges": np.asarray(result.mulliken_charges, dtype=np.float64),
        }
        if result.forces_ha_bohr is not None:
            self.results["forces"] = result.forces_ha_bohr * (HARTREE_EV * ANGSTROM_BOHR)
