"""CAM-B3LYP against PySCF (libxc's HYB_GGA_XC_CAM_B3LYP): the erf attenuation function against
a 60-digit evaluation, the functional and its ITYH short-range B88 pointwise against libxc, and
SCF energies, frontier orbitals and forces against PySCF's RKS."""

import math

import jax
import mpmath
import numpy as np
import pytest
from pyscf import dft
from pyscf.dft import libxc

from dftgen import run_dft
from dftgen.precision import dtype
from dftgen.xc import eval_xc, functional
from dftgen.xc.attenuated import CAM_B3LYP_OMEGA, SERIES_FROM, attenuation
from pyscf_cases import pyscf_reference, water_on_pyscf_grid

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)
RTOL = 1e-10  # pointwise, relative, float64


def exact_attenuation(a):
    """A(a) and dA/da with 60 significant digits, as floats."""
    with mpmath.workdps(60):
        value = mpmath.diffs(_closed_form, mpmath.mpf(float(a)), 1)
        return tuple(float(v) for v in value)


def _closed_form(a):
    return 1 - mpmath.mpf(8) / 3 * a * (
        mpmath.sqrt(mpmath.pi) * mpmath.erf(1 / (2 * a))
        + (2 * a - 4 * a**3) * mpmath.exp(-1 / (4 * a**2)) - 3 * a + 4 * a**3)


def libxc_eval(name, rho, sigma, omega=None):
    """(exc, vrho, vsigma) of a libxc GGA for a closed-shell density."""
    inp = np.stack([rho, np.sqrt(sigma), 0 * rho, 0 * rho])
    exc, v = libxc.eval_xc(name, inp, spin=0, deriv=1, omega=omega)[:2]
    return exc, v[0], v[1]


def assert_close_to_libxc(ours, ref, rtol):
    for label, a, b in zip(("exc", "vrho", "vsigma"), ours, ref):
        err = np.abs(np.asarray(a) - b)
        assert np.all(err <= rtol * np.abs(b)), (label, float(np.max(err / np.abs(b))))


@pytest.mark.parametrize("precision, rtol", [("float64", 1e-14), ("float32", 5e-6)])
def test_attenuation_matches_60_digits_on_both_branches(precision, rtol):
    """A(a) and dA/da over a in [0.01, 1000], at and just below the switch to the series, to
    1e-14 relative in float64 (measured 6e-15) and 5e-6 in float32 (measured 5e-7 and 2.2e-6,
    the closed form's own rounding). References are taken at the arguments as rounded."""
    dt = dtype(precision)
    switch = SERIES_FROM[np.dtype(dt)]
    a = np.asarray(np.concatenate([np.logspace(-2, 3, 101), [switch * (1 - 1e-7), switch]]), dt)
    value = np.asarray(attenuation(a))
    slope = np.asarray(jax.vmap(jax.grad(attenuation))(a))
    exact, exact_slope = np.array([exact_attenuation(x) for x in a]).T
    assert np.all(np.abs(value - exact) <= rtol * np.abs(exact))
    assert np.all(np.abs(slope - exact_slope) <= rtol * np.abs(exact_slope))


def test_names_and_coefficients_are_pyscfs():
    f = functional("camb3lyp")
    assert functional("cam_b3lyp") is f
    assert libxc.parse_xc("cam_b3lyp") == libxc.parse_xc("camb3lyp")
    assert (f.omega, f.hybrid + f.long_range, -f.long_range) == pytest.approx(
        libxc.rsh_coeff("camb3lyp"), abs=1e-15)
    weights = {c.name: w for w, c in f.terms}
    assert weights == pytest.approx({"b88": 0.35, "ityh_b88": 0.46, "vwn5": 0.19, "lyp": 0.81})


def test_pointwise_across_the_attenuation_branches_matches_libxc():
    """rho in [1e-8, 1e3] and reduced gradient s in {0, 0.3, 1, 3, 10}: a = omega / (2 k)
    runs from 0.005 to beyond 25, across dftgen's switch to the series (a = 0.75) and libxc's
    (1.35). CAM-B3LYP and its ITYH-B88 alone (libxc's GGA_X_ITYH at omega 0.33) to RTOL.
    Below 1e-8 ITYH's vsigma, a difference of terms 1/a^2 larger, loses digits: at rho =
    1e-13, s = 0, libxc's by 2e-4 and dftgen's by 2e-9 against an 80-digit evaluation."""
    rho, s = (grid.ravel() for grid in np.meshgrid(np.logspace(-8, 3, 111), [0, 0.3, 1, 3, 10]))
    sigma = s**2 * 4 * (3 * math.pi**2) ** (2 / 3) * rho ** (8 / 3)
    assert_close_to_libxc(eval_xc("camb3lyp", rho, sigma), libxc_eval("camb3lyp", rho, sigma), RTOL)
    assert_close_to_libxc(eval_xc("ityh_b88", rho, sigma),
                          libxc_eval("gga_x_ityh", rho, sigma, omega=CAM_B3LYP_OMEGA), RTOL)


def test_pointwise_on_a_molecular_grid_matches_libxc(water):
    """Every point of water's minao density (6-31G*) on PySCF's level-2 grid, the thin tails
    included (measured 5e-12 relative, in vsigma)."""
    mol, _, ao, dm = water_on_pyscf_grid(water, level=2)
    rho, *grad = dft.numint.eval_rho(mol, ao, dm, xctype="GGA")
    sigma = np.sum(np.square(grad), axis=0)
    assert_close_to_libxc(eval_xc("camb3lyp", rho, sigma), libxc_eval("camb3lyp", rho, sigma), RTOL)


def assert_scf_equals_pyscf(molecule, forces):
    """STO-3G, grid level 0, converged in float64: |dE| <= 1e-7 Ha, HOMO and LUMO 1e-6 Ha, and
    with `forces` the forces 1e-6 Ha/Bohr against PySCF's analytic gradients."""
    result = run_dft(molecule, "qm1b", xc="camb3lyp", forces=forces, **CONVERGED)
    mf, energy, homo, lumo = pyscf_reference(molecule, "sto-3g", "camb3lyp", 0)
    assert abs(result.energy_ha - energy) <= 1e-7
    assert abs(result.homo_ha - homo) <= 1e-6 and abs(result.lumo_ha - lumo) <= 1e-6
    if forces:
        np.testing.assert_allclose(result.forces_ha_bohr, -mf.nuc_grad_method().kernel(), atol=1e-6)


def test_water_scf_equals_pyscf(water):
    """Measured: dE 1e-13 Ha, HOMO/LUMO 1e-10 Ha."""
    assert_scf_equals_pyscf(water, forces=False)


@pytest.mark.slow
def test_water_forces_equal_pyscf(water):
    """Slow: the forces add ~20 s of CPU to the SCF. Measured: forces 3e-11 Ha/Bohr."""
    assert_scf_equals_pyscf(water, forces=True)


@pytest.mark.slow
def test_benzene_scf_equals_pyscf(benzene):
    """Measured: dE 7e-12 Ha, HOMO/LUMO 2e-8 Ha."""
    assert_scf_equals_pyscf(benzene, forces=False)
