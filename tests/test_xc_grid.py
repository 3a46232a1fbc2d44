"""E_xc and the electron count on dftgen's own grid and AO values equal PySCF's on its grid."""

import numpy as np
import pytest
from pyscf import dft

from dftgen import Molecule, basis, grids
from dftgen.xc import vxc

TEN_HEAVY_SMILES = "CC1=NOC(C)=C1C(N)=O"  # 10 heavy atoms (C6 N2 O2), 10 H


def compare_with_pyscf(mol, level, basis_name="sto-3g", xc="b3lyp5"):
    """(|dN|, |dE_xc|, max |dV|) between dftgen (grid, AOs, Vxc) and PySCF for a minao density."""
    pmol = mol.to_pyscf(basis_name)
    pgrids = dft.gen_grid.Grids(pmol)
    pgrids.level = level
    pgrids.build()
    dm = dft.RKS(pmol).get_init_guess()
    n_ref, e_ref, v_ref = dft.numint.NumInt().nr_rks(pmol, pgrids, xc, dm)

    grid = grids.build(mol, level)
    ao = grids.ao_values(mol, basis.build(mol, basis_name), grid.points, deriv=1)
    n, e, v = vxc(xc, ao, grid.weights, dm)
    return abs(float(n) - n_ref), abs(float(e) - e_ref), np.max(np.abs(np.asarray(v) - v_ref))


@pytest.mark.parametrize("level", [0, 3])
def test_water_on_dftgen_grid(water, level):
    dn, de, dv = compare_with_pyscf(water, level, basis_name="6-31g*")
    assert dn <= 1e-9 and de <= 1e-9 and dv <= 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("level", [0, 3])
def test_benzene_on_dftgen_grid(benzene, level):
    dn, de, dv = compare_with_pyscf(benzene, level)
    assert dn <= 1e-9 and de <= 1e-9 and dv <= 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("level", [0, 3])
def test_ten_heavy_atoms_on_dftgen_grid(level):
    mol = Molecule.from_smiles(TEN_HEAVY_SMILES, seed=0)
    assert sum(z > 1 for z in mol.numbers) == 10
    dn, de, dv = compare_with_pyscf(mol, level)
    assert dn <= 1e-9 and de <= 1e-9 and dv <= 1e-9
