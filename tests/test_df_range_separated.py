"""Density fitting of range-separated exchange against PySCF's `density_fit()` with the same
auxiliary basis, which fits erf(omega r)/r with a second B whose (P|ij) and (P|Q) both carry
the attenuated operator (`DF.range_coulomb`): the integrals to 1e-10, the long-range K to
1e-10, converged wB97X, wB97X-D3BJ and CAM-B3LYP SCF energies to 1e-8 Ha and HOMO/LUMO to
1e-7 Ha, forces to 1e-6 Ha/Bohr against PySCF's DF gradients."""

import numpy as np
import pytest
from dftgen import run_dft
from dftgen import scf as dftgen_scf
from dftgen.basis import build
from dftgen.integrals import df, df_gradient, triangle, two_electron
from dftgen.integrals.auxiliary import metric, three_centre
from dftgen.precision import enable_x64
from dftgen.presets import Settings
from dftgen.scf import problem
from dftgen.xc import functionals
from dftgen.xc.functionals import Functional
from pyscf import dft
from pyscf.df import addons, incore
from pyscf_cases import pyscf_reference

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)
AUXBASIS = "cc-pvdz-jkfit"  # PySCF's default for 6-31G*
OMEGA = 0.3  # wB97X's


def test_attenuated_integrals_match_pyscf(water):
    aux = df.auxiliary_basis(water, "6-31g*", AUXBASIS)
    pmol = water.to_pyscf("6-31g*")
    auxmol = addons.make_auxmol(pmol, AUXBASIS)
    with pmol.with_range_coulomb(OMEGA), auxmol.with_range_coulomb(OMEGA):
        expected_three = incore.aux_e2(pmol, auxmol, "int3c2e").transpose(2, 0, 1)
        expected_metric = auxmol.intor("int2c2e")
    got = three_centre(water, build(water, "6-31g*"), aux, omega=OMEGA)
    np.testing.assert_allclose(got, expected_three, rtol=0, atol=1e-10)
    np.testing.assert_allclose(metric(water, aux, omega=OMEGA), expected_metric, rtol=0,
                               atol=1e-10)


def test_metric_singular_to_rounding_takes_the_eigenvalue_route():
    """The fitted (ij|kl) = T^T X^T X T with X^T X the metric's inverse where it is positive
    definite, its pseudo-inverse over eigenvalues above LINEAR_DEPENDENCE where it is
    singular to rounding (there a Cholesky factorisation succeeds or fails by accident), and
    the fitted energy's derivative weights (`df_gradient`) those of d(M^-1) = -M^-1 dM M^-1
    with M^-1 either (PySCF's DF gradients): sum dT G + sum dM H equals the energy's
    directional derivative to 1e-10."""
    enable_x64()
    rng = np.random.default_rng(0)
    nao, naux, coulomb, exchange = 3, 6, 1.0, 0.7
    i, j, _, _ = triangle.pairs(nao)
    a, orbitals = rng.normal(size=(naux, 4)), rng.normal(size=(nao, 2))
    three, d_three = (triangle.unpack(rng.normal(size=(naux, len(i))), nao) for _ in range(2))
    d_metric = rng.normal(size=(naux, naux))
    d_metric = d_metric + d_metric.T
    dm = orbitals @ orbitals.T
    singular = a @ a.T  # rank 4: two eigenvalues of rounding size
    for m, is_cholesky in [(singular + np.eye(naux), True), (singular, False)]:
        inverse = np.linalg.pinv(m, rcond=1e-10, hermitian=True)
        factor = df._factor(m)
        assert bool(factor[1]) == is_cholesky
        b = df._apply(*factor, three[:, i, j])
        np.testing.assert_allclose(b.T @ b, three[:, i, j].T @ inverse @ three[:, i, j],
                                   rtol=0, atol=1e-10)
        d = np.einsum("pij,ij->p", three, dm)
        pairs = np.einsum("pij,jk,qkl,li->pq", three, dm, three, dm)  # tr(T_P D T_Q D)
        d_d = np.einsum("pij,ij->p", d_three, dm)
        d_pairs = np.einsum("pij,jk,qkl,li->pq", d_three, dm, three, dm)
        d_inverse = -inverse @ d_metric @ inverse
        expected = (coulomb * (d @ inverse @ d_d + 0.5 * d @ d_inverse @ d)
                    - 0.25 * exchange * (2 * np.sum(inverse * d_pairs) + np.sum(d_inverse * pairs)))
        g, h = df_gradient._weights(*factor, b, orbitals, coulomb, exchange)
        got = np.sum(triangle.unpack(g, nao) * d_three) + np.sum(h * d_metric)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_long_range_exchange_matches_pyscf(water):
    """K of erf(omega r)/r fitted, whose metric needs PySCF's eigenvalue fallback, and G."""
    aux = df.auxiliary_basis(water, "6-31g*", AUXBASIS)
    fitted = df.fitted_eri(water, "6-31g*", aux)
    fitted = fitted._replace(b_lr=df.fitted_eri(water, "6-31g*", aux, OMEGA).b)
    pmol = water.to_pyscf("6-31g*")
    mf = dft.RKS(pmol).density_fit(auxbasis=AUXBASIS)
    guess = mf.get_init_guess()
    noise = np.random.default_rng(0).normal(scale=0.01, size=guess.shape)
    dm = guess + noise + noise.T
    k_lr = mf.get_k(pmol, dm, omega=OMEGA)
    np.testing.assert_allclose(df.exchange(df.FittedERI(fitted.b_lr), dm), k_lr, rtol=0,
                               atol=1e-10)
    j, k = mf.get_jk(pmol, dm)
    np.testing.assert_allclose(two_electron(fitted, dm, 0.2, 0.5),
                               j - 0.1 * k - 0.25 * k_lr, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="b_lr"):
        two_electron(fitted._replace(b_lr=None), dm, 0.2, 0.5)
    with pytest.raises(ValueError, match="no long-range exchange"):  # dense ERIs
        two_electron(np.zeros((2,) * 4), np.zeros((2, 2)), 0.2, 0.5)


def test_memory_check_counts_the_long_range_tensor(water, monkeypatch):
    """A range-separated functional holds B of erf(omega r)/r beside B of 1/r: two tensors
    of naux npair in float64 instead of one, which go to files sooner."""
    rsh = Functional("rsh-0.3-test", (), hybrid=0.5, omega=OMEGA, long_range=0.5)
    monkeypatch.setitem(functionals.FUNCTIONALS, rsh.name, rsh)
    nao = build(water, "6-31g*").nao
    tensor = df.auxiliary_basis(water, "6-31g*").nao * nao * (nao + 1) // 2 * 8
    monkeypatch.setattr(problem, "FITTED_ERI_BYTES", int(1.5 * tensor))
    fits = dftgen_scf.setup(water, Settings(xc="hf", basis="6-31g*", eri="df",
                                            precision="float64"))
    assert fits.two_electron_method == "df" and not fits.fitted_in_file
    assert dftgen_scf.setup(water, Settings(xc=rsh.name, basis="6-31g*", eri="df",
                                            precision="float64")).fitted_in_file


@pytest.mark.parametrize("xc, molecule", [
    ("wb97x", "water"),
    ("wb97x-d3bj", "water"),
    pytest.param("camb3lyp", "water", marks=pytest.mark.slow),  # omega 0.33, hybrid 0.19
    pytest.param("wb97x", "nine_heavy", marks=pytest.mark.slow),
    pytest.param("wb97x-d3bj", "nine_heavy", marks=pytest.mark.slow),
])
def test_scf_matches_pyscf_density_fit(request, xc, molecule):
    """6-31G*, grid level 0, converged float64: |dE| <= 1e-8 Ha, |dHOMO|, |dLUMO| <= 1e-7 Ha."""
    mol = request.getfixturevalue(molecule)
    result = run_dft(mol, "accurate", xc=xc, grid_level=0, eri="df", **CONVERGED)
    assert result.converged and result.two_electron_method == "df"
    _, e, homo, lumo = pyscf_reference(mol, "6-31g*", xc, 0, auxbasis=AUXBASIS)
    assert abs(result.energy_ha - e) <= 1e-8
    assert abs(result.homo_ha - homo) <= 1e-7
    assert abs(result.lumo_ha - lumo) <= 1e-7
    assert (result.dispersion_ha < 0) == xc.endswith("-d3bj")


@pytest.mark.slow
def test_forces_match_pyscf_density_fit_gradients(water):
    """wB97X, 6-31G*, grid level 0: forces within 1e-6 Ha/Bohr of minus PySCF's DF gradient
    (auxiliary basis response, the long-range part from its own fit)."""
    result = run_dft(water, "accurate", xc="wb97x", grid_level=0, eri="df", forces=True,
                     **CONVERGED)
    mf, _, _, _ = pyscf_reference(water, "6-31g*", "wb97x", 0, auxbasis=AUXBASIS)
    gradient = mf.nuc_grad_method()
    assert gradient.auxbasis_response
    np.testing.assert_allclose(result.forces_ha_bohr, -gradient.kernel(), rtol=0, atol=1e-6)
