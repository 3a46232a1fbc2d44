"""D3(BJ) dispersion: the correction against PySCF's own D3 build (pyscf-dispersion), and
whole "-d3bj" calculations against PySCF's RKS with the same functional name."""

import numpy as np
import pytest
from pyscf.dispersion import dftd3 as pyscf_dftd3

from dftgen import Molecule, run_dft
from dftgen.dispersion import d3bj
from pyscf_cases import pyscf_reference

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)


@pytest.mark.parametrize("functional", ["b3lyp", "pbe", "pbe0", "hf"])
@pytest.mark.parametrize("smiles", ["O", "CC(=O)Nc1ccc(O)cc1"])
def test_d3bj_equals_pyscf_dispersion(smiles, functional):
    """Energy and gradient to 1e-10 (Hartree, Hartree/Bohr)."""
    mol = Molecule.from_smiles(smiles, seed=0)
    energy, gradient = d3bj(mol.numbers, mol.positions, functional)
    reference = pyscf_dftd3.DFTD3Dispersion(mol.to_pyscf("sto-3g"), xc=functional,
                                            version="d3bj", atm=False).get_dispersion(grad=True)
    assert energy < 0
    assert abs(energy - reference["energy"]) <= 1e-10
    np.testing.assert_allclose(gradient, reference["gradient"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("xc", ["b3lyp-d3bj", "pbe-d3bj"])
def test_d3bj_functionals_equal_pyscf(water, xc):
    """Converged float64 energies within 1e-7 Ha and forces within 1e-5 Ha/Bohr of PySCF's
    RKS with the same name (dispersion included in e_tot and in the gradient)."""
    result = run_dft(water, "qm1b", xc=xc, forces=True, **CONVERGED)
    mf, energy, homo, lumo = pyscf_reference(water, "sto-3g", xc, 0)
    plain = run_dft(water, "qm1b", xc=xc.removesuffix("-d3bj"), **CONVERGED)
    assert abs(result.energy_ha - energy) <= 1e-7
    assert abs(result.homo_ha - homo) <= 1e-6 and abs(result.lumo_ha - lumo) <= 1e-6
    assert result.dispersion_ha < 0
    assert abs(result.energy_ha - plain.energy_ha - result.dispersion_ha) <= 1e-9
    np.testing.assert_allclose(result.forces_ha_bohr, -mf.nuc_grad_method().kernel(), atol=1e-5)
