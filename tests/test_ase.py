"""The ASE calculator against `run_dft`, PySCF and finite differences, and a BFGS relaxation
that ends where one driven by PySCF's energies and gradients ends.

Water throughout, converged in float64 so the comparisons test the calculator, not the SCF's
float32 noise.
"""

import logging

import jax
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.optimize import BFGS

from dftgen import run_dft
from dftgen.ase import DFTGen
from dftgen.elements import ANGSTROM_BOHR, BOHR_ANGSTROM, DEBYE_AU, HARTREE_EV
from finite_differences import central_gradient
from pyscf_cases import pyscf_reference

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)
EV_ANGSTROM = HARTREE_EV * ANGSTROM_BOHR  # eV/Angstrom per Hartree/Bohr


def _atoms(mol) -> Atoms:
    return Atoms(numbers=mol.numbers, positions=np.asarray(mol.positions) * BOHR_ANGSTROM)


class PySCFCalculator(Calculator):
    """PySCF's RKS (RHF for xc="hf") energy and analytic gradient (no grid response, as
    dftgen's forces): the reference an optimiser is driven by."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, xc, molecule_like):
        super().__init__()
        self.xc, self.like = xc, molecule_like

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        mol = self.like.with_positions(self.atoms.positions * ANGSTROM_BOHR)
        mf, energy, *_ = pyscf_reference(mol, "sto-3g", self.xc, 0)
        self.results = {"energy": energy * HARTREE_EV,
                        "forces": -mf.nuc_grad_method().kernel() * EV_ANGSTROM}


def test_results_equal_run_dft_in_ase_units(water):
    atoms = _atoms(water)
    atoms.calc = DFTGen("qm1b", **CONVERGED)
    reference = run_dft(water, "qm1b", forces=True, **CONVERGED)
    assert atoms.get_potential_energy() == pytest.approx(reference.energy_ha * HARTREE_EV,
                                                         abs=1e-9)
    np.testing.assert_allclose(atoms.get_forces(), reference.forces_ha_bohr * EV_ANGSTROM,
                               atol=1e-9)
    np.testing.assert_allclose(atoms.get_dipole_moment(),
                               reference.dipole_debye / DEBYE_AU * BOHR_ANGSTROM, atol=1e-9)
    np.testing.assert_allclose(atoms.get_charges(), reference.mulliken_charges, atol=1e-9)
    assert abs(atoms.get_charges().sum()) < 1e-8


def test_energy_and_forces_equal_pyscf(water):
    """|dE| <= 1e-7 Ha and forces within 1e-5 Ha/Bohr of PySCF's analytic gradients."""
    atoms = _atoms(water)
    atoms.calc = DFTGen("qm1b", **CONVERGED)
    mf, energy, *_ = pyscf_reference(water, "sto-3g", "b3lyp5", 0)
    assert abs(atoms.get_potential_energy() / HARTREE_EV - energy) <= 1e-7
    np.testing.assert_allclose(atoms.get_forces() / EV_ANGSTROM, -mf.nuc_grad_method().kernel(),
                               atol=1e-5)


def test_forces_are_minus_the_energy_gradient(water):
    """Hartree-Fock (no grid, so no grid response): forces equal central differences of the
    energy (step 2.5e-4 Angstrom) within 1e-5 eV/Angstrom."""
    atoms = _atoms(water)
    atoms.calc = DFTGen("qm1b", xc="hf", **CONVERGED)
    forces = atoms.get_forces()

    def energy(positions):
        displaced = atoms.copy()
        displaced.positions = positions
        displaced.calc = atoms.calc
        return displaced.get_potential_energy()

    numeric = -central_gradient(energy, atoms.positions, h=2.5e-4)
    np.testing.assert_allclose(forces, numeric, atol=1e-5)


def test_a_moved_molecule_compiles_nothing(water):
    """An optimisation step (same atoms, new positions) reuses every compiled program."""
    atoms = _atoms(water)
    atoms.calc = DFTGen("qm1b", **CONVERGED)
    atoms.get_forces()
    compiled = []
    handler = logging.Handler()
    handler.emit = lambda record: compiled.append(record.getMessage())
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            atoms.positions[0] += [0.01, -0.02, 0.005]
            atoms.get_forces()
            moved = [m for m in compiled if m.startswith("Finished XLA compilation")]
            jax.jit(lambda x: x + 1.0)(np.ones(2))  # a new program is seen
    finally:
        logger.removeHandler(handler)
    assert moved == []
    assert any(m.startswith("Finished XLA compilation") for m in compiled)


def test_bfgs_relaxation_ends_at_pyscf_minimum(water):
    """From a distorted water, BFGS to fmax 1e-4 eV/Angstrom driven by dftgen and by PySCF
    (Hartree-Fock: with no grid, forces are exact gradients and sum to zero, so a tight fmax
    is reachable): every interatomic distance of the two minima agrees within 1e-3 Angstrom."""
    start = _atoms(water)
    start.positions[1] += [0.05, 0.03, 0.0]
    start.positions[2] -= [0.0, 0.04, 0.02]
    minima = []
    for calc in (DFTGen("qm1b", xc="hf", **CONVERGED), PySCFCalculator("hf", water)):
        atoms = start.copy()
        atoms.calc = calc
        assert BFGS(atoms, logfile=None).run(fmax=1e-4, steps=100)
        minima.append(atoms.get_all_distances())
    np.testing.assert_allclose(minima[0], minima[1], atol=1e-3)
    assert np.abs(minima[0] - start.get_all_distances()).max() > 1e-2, "nothing relaxed"
