"""Dipole integrals against PySCF's int1e_r (1e-12 max abs, float64)."""

import numpy as np
import pytest

from dftgen import basis
from dftgen.integrals.multipole import dipole


@pytest.mark.parametrize("name", ["sto-3g", pytest.param("6-31g(2df,p)", marks=pytest.mark.slow)])
def test_dipole_integrals_match_pyscf(water, name):
    r = np.asarray(dipole(water, basis.build(water, name)))
    np.testing.assert_allclose(r, water.to_pyscf(name).intor("int1e_r"), atol=1e-12, rtol=0)


def test_dipole_integrals_about_another_origin(methane):
    origin = (0.3, -1.2, 2.0)
    r = np.asarray(dipole(methane, basis.build(methane, "6-31g*"), origin=origin))
    pmol = methane.to_pyscf("6-31g*")
    with pmol.with_common_orig(origin):
        np.testing.assert_allclose(r, pmol.intor("int1e_r"), atol=1e-12, rtol=0)
