"""Range-separated exact exchange in the SCF: a functional of exact exchange only, with
omega = 0.3, half of it full-range and all of it at long range (PySCF's "RSH(0.3, 1.0,
-0.5)"), against PySCF's RKS converged in float64: energy, orbital energies and forces."""

import numpy as np
import pytest
from pyscf import dft

from dftgen import run_dft
from dftgen.xc import functionals
from dftgen.xc.functionals import Functional

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)


@pytest.fixture()
def rsh(monkeypatch):
    f = Functional("rsh-0.3-test", (), hybrid=0.5, omega=0.3, long_range=0.5)
    monkeypatch.setitem(functionals.FUNCTIONALS, f.name, f)
    return f


def test_range_separated_exchange_equals_pyscf(water, rsh):
    result = run_dft(water, "qm1b", xc=rsh.name, forces=True, **CONVERGED)
    mf = dft.RKS(water.to_pyscf("sto-3g"))
    mf.xc = "RSH(0.3, 1.0, -0.5)"
    mf.conv_tol = 1e-11
    mf.kernel()
    assert mf.converged and mf._numint.rsh_and_hybrid_coeff(mf.xc) == (0.3, 1.0, 0.5)
    n = water.n_electrons // 2
    assert abs(result.energy_ha - mf.e_tot) <= 1e-7
    np.testing.assert_allclose(result.mo_energy[n - 1:n + 1], mf.mo_energy[n - 1:n + 1], atol=1e-6)
    np.testing.assert_allclose(result.forces_ha_bohr, -mf.nuc_grad_method().kernel(), atol=1e-6)
    plain = run_dft(water, "qm1b", xc="hf", **CONVERGED)
    assert abs(result.energy_ha - plain.energy_ha) > 1e-3  # the long-range part does something


def test_wb97x_equals_pyscf_on_sto3g(water):
    """wB97X, STO-3G, grid level 0, converged float64: |dE| <= 1e-7 Ha, HOMO/LUMO 1e-6 Ha."""
    from pyscf_cases import pyscf_reference

    result = run_dft(water, "qm1b", xc="wb97x", **CONVERGED)
    _, energy, homo, lumo = pyscf_reference(water, "sto-3g", "wb97x", 0)
    assert abs(result.energy_ha - energy) <= 1e-7
    assert abs(result.homo_ha - homo) <= 1e-6 and abs(result.lumo_ha - lumo) <= 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("xc", ["wb97x", "wb97x-d3bj", "wb97"])
def test_wb97_family_equals_pyscf(water, xc):
    """wB97, wB97X and PySCF's wB97X-D3BJ (wB97X-V's semi-local part with D3(BJ)), 6-31G*,
    grid level 2, converged float64: |dE| <= 1e-7 Ha, HOMO/LUMO 1e-6 Ha, forces 1e-6
    Ha/Bohr against PySCF's analytic gradients (dispersion included)."""
    from pyscf_cases import pyscf_reference

    result = run_dft(water, "accurate", xc=xc, grid_level=2, forces=True, **CONVERGED)
    mf, energy, homo, lumo = pyscf_reference(water, "6-31g*", xc, 2)
    assert abs(result.energy_ha - energy) <= 1e-7
    assert abs(result.homo_ha - homo) <= 1e-6 and abs(result.lumo_ha - lumo) <= 1e-6
    np.testing.assert_allclose(result.forces_ha_bohr, -mf.nuc_grad_method().kernel(), atol=1e-6)
    assert (result.dispersion_ha < 0) == xc.endswith("-d3bj")
