"""Long-range ERIs, (ij|erf(omega r)/r|kl), against PySCF's mol.with_range_coulomb(omega):
1e-10 max abs in float64, for the omegas of wB97X (0.3), wB97X-D (0.2) and CAM-B3LYP (0.33)."""

import numpy as np
import pytest

from dftgen import Molecule, integrals


def pyscf_long_range(mol, basis, omega):
    pmol = mol.to_pyscf(basis)
    with pmol.with_range_coulomb(omega):
        return pmol.intor("int2e", aosym="s8")


@pytest.mark.parametrize("omega", [0.3, pytest.param(0.2, marks=pytest.mark.slow),
                                   pytest.param(0.33, marks=pytest.mark.slow)])
def test_long_range_eris_equal_pyscf(water, omega):
    got = np.asarray(integrals.eri(water, "6-31g*", omega=omega))
    ref = pyscf_long_range(water, "6-31g*", omega)
    assert np.max(np.abs(got - ref)) < 1e-10
    full = np.asarray(integrals.eri(water, "6-31g*"))
    pairs = np.arange(water.to_pyscf("6-31g*").nao * (water.to_pyscf("6-31g*").nao + 1) // 2)
    diagonal = pairs * (pairs + 1) // 2 + pairs  # (ab|ab) in the s8 order
    # the kernel's Fourier transform is the Coulomb one's times exp(-k^2/4w^2): (ab|ab) shrink
    assert np.all(got[diagonal] <= full[diagonal]) and np.all(got[diagonal] > 0)


def test_long_range_eris_of_a_larger_molecule_equal_pyscf():
    mol = Molecule.from_smiles("CC(=O)N", seed=0)
    got = np.asarray(integrals.eri(mol, "sto-3g", omega=0.3))
    assert np.max(np.abs(got - pyscf_long_range(mol, "sto-3g", 0.3))) < 1e-10
