"""Cartesian shells (Settings.shells): "cartesian" against PySCF with cart=True, element by
element (integrals 1e-10, AO values 1e-10, SCF energy 1e-7 Ha, HOMO/LUMO 1e-6 Ha), and "6d7f"
(Cartesian d, spherical f) against PySCF's Cartesian matrices with PySCF's cart2sph applied to
the f shells, which PySCF cannot do directly."""

import json

import numpy as np
import pytest
import scipy.linalg
from pyscf import ao2mo, gto, scf

from dftgen import basis, grids, guess, integrals, run_dft
from dftgen.cli import main
from dftgen.device import memory
from dftgen.integrals.multipole import dipole
from dftgen.presets import Settings
from pyscf_cases import pyscf_reference

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)
ONE_ELECTRON = ("int1e_ovlp", "int1e_kin", "int1e_nuc")


@pytest.fixture(scope="module")
def water_points(water):
    return grids.build(water, 0).points


def six_d_seven_f(pmol) -> np.ndarray:
    """(nao_cart, nao_6d7f) map from PySCF's Cartesian AOs of `pmol` to 6d7f ones: identity on
    s, p and d shells, PySCF's cart2sph on f shells."""
    blocks = []
    for shell in range(pmol.nbas):
        l = pmol.bas_angular(shell)
        block = gto.cart2sph(l) if l >= 3 else np.eye((l + 1) * (l + 2) // 2)
        blocks += [block] * pmol.bas_nctr(shell)
    return scipy.linalg.block_diag(*blocks)


def one_d_shell_per_atom(mol, exponent: float = 0.8) -> basis.BasisSet:
    """One Cartesian d primitive on every atom: one pair class, so its ERIs compile quickly."""
    coefficients = tuple(basis.normalised_contraction(2, [exponent], [1.0]))
    shells = tuple(basis.Shell(atom, 2, (exponent,), coefficients, cartesian=True)
                   for atom in range(mol.natoms))
    return basis.BasisSet("d", shells, tuple(int(z) for z in mol.numbers))


# -- the setting and the basis ----------------------------------------------------------------


def test_settings_take_the_three_shell_forms():
    assert Settings().shells == "spherical"
    for shells in basis.SHELLS:
        assert Settings(shells=shells).shells == shells
    with pytest.raises(ValueError, match="shells must be one of"):
        Settings(shells="6d")


def test_build_rejects_an_unknown_shell_form(water):
    with pytest.raises(basis.BasisError, match="unknown shells"):
        basis.build(water, "6-31g*", "10f")


def test_function_counts_per_shell(water):
    """6-31G(2df,p): 6 d and 7 f functions per shell in 6d7f; nao as PySCF's, spherical and
    Cartesian."""
    name = "6-31g(2df,p)"
    counts = {shells: [(s.l, s.nfunc) for s in basis.build(water, name, shells).shells]
              for shells in basis.SHELLS}
    assert {n for l, n in counts["6d7f"] if l == 2} == {6}
    assert {n for l, n in counts["6d7f"] if l == 3} == {7}
    assert {n for l, n in counts["cartesian"] if l == 3} == {10}
    assert all(n == 2 * l + 1 for l, n in counts["spherical"])
    for shells, cart in (("spherical", False), ("cartesian", True)):
        bas = basis.build(water, name, shells)
        assert bas.nao == water.to_pyscf(name, cart=cart).nao == sum(n for _, n in counts[shells])
        assert list(np.diff(bas.ao_loc)) == [n for _, n in counts[shells]]


def test_shape_keys(water):
    """s and p shells are the same in every form, so a basis without d shells keeps its shape;
    with d shells each form is its own shape (6d7f and Cartesian agree without f shells)."""
    def key(name, shells):
        return basis.build(water, name, shells).shape_key

    assert len({key("6-31g", shells) for shells in basis.SHELLS}) == 1
    assert key("6-31g*", "spherical") != key("6-31g*", "cartesian") == key("6-31g*", "6d7f")
    assert len({key("6-31g(2df,p)", shells) for shells in basis.SHELLS}) == 3


def test_device_memory_model_counts_cartesian_functions(water):
    bas = basis.build(water, "6-31g*", "cartesian")
    assert memory.workload(bas, Settings(basis="6-31g*", shells="cartesian"), 0).nao == 19
    spherical, cartesian = (memory.atom_sizes(8, "6-31g*", 0, shells)
                            for shells in ("spherical", "cartesian"))
    assert cartesian[0] == spherical[0] + 1 and cartesian[1] == spherical[1] + 1  # one d primitive


def test_integrals_command_takes_shells(capsys):
    assert main(["integrals", "--smiles", "O", "--basis", "6-31g*", "--shells", "cartesian",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nao"] == 19 and out["shells"] == "cartesian"


# -- Cartesian integrals against PySCF's cart=True ----------------------------------------------


@pytest.mark.parametrize("name", ["6-31g*", pytest.param("6-31g(2df,p)", marks=pytest.mark.slow)])
def test_one_electron_integrals_equal_pyscf_cart(water, name):
    """S, T, V element by element, so the normalisation too: libcint's d and f functions are
    not unit-normalised (<xx|xx> = 4 pi/5)."""
    pmol = water.to_pyscf(name, cart=True)
    ours = integrals.one_electron_integrals(water, basis.build(water, name, "cartesian"))
    for got, key in zip(ours, ONE_ELECTRON):
        np.testing.assert_allclose(np.asarray(got), pmol.intor(key), atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["6-31g*", "6-31g(2df,p)"])
def test_ao_values_equal_pyscf_cart(water, water_points, name):
    ours = grids.ao_values(water, basis.build(water, name, "cartesian"), water_points, deriv=1)
    ref = water.to_pyscf(name, cart=True).eval_gto("GTOval_cart_deriv1", water_points)
    np.testing.assert_allclose(np.asarray(ours), ref, atol=1e-10, rtol=0)


def test_eri_of_cartesian_d_shells_equal_pyscf(water):
    bas = one_d_shell_per_atom(water)
    pmol = water.to_pyscf({"O": [[2, [0.8, 1.0]]], "H": [[2, [0.8, 1.0]]]}, cart=True)
    got = np.asarray(integrals.eri(water, bas, threshold=0.0))
    assert np.max(np.abs(got - pmol.intor("int2e", aosym="s8"))) < 1e-10


@pytest.mark.slow  # minutes of compilation on a cold cache, as the spherical polarised ERIs
@pytest.mark.parametrize("name", ["6-31g*", "6-31g(2df,p)"])
def test_eri_equal_pyscf_cart(water, name):
    got = np.asarray(integrals.eri(water, basis.build(water, name, "cartesian")))
    ref = water.to_pyscf(name, cart=True).intor("int2e", aosym="s8")
    assert np.max(np.abs(got - ref)) < 1e-10


def test_dipole_integrals_equal_pyscf_cart(water):
    r = np.asarray(dipole(water, basis.build(water, "6-31g*", "cartesian")))
    np.testing.assert_allclose(r, water.to_pyscf("6-31g*", cart=True).intor("int1e_r"),
                               atol=1e-12, rtol=0)


def test_minao_guess_equals_pyscf_cart(water):
    """PySCF projects its spherical minimal basis onto the Cartesian AOs; so does dftgen."""
    ours = guess.minao(water, basis.build(water, "6-31g*", "cartesian"))
    ref = scf.hf.init_guess_by_minao(water.to_pyscf("6-31g*", cart=True))
    np.testing.assert_allclose(ours, ref, atol=1e-10, rtol=0)


# -- 6d7f against PySCF's Cartesian matrices with spherical f -----------------------------------


def test_ao_values_6d7f_equal_transformed_pyscf(water, water_points):
    pmol = water.to_pyscf("6-31g(2df,p)", cart=True)
    ours = grids.ao_values(water, basis.build(water, "6-31g(2df,p)", "6d7f"), water_points, deriv=1)
    ref = pmol.eval_gto("GTOval_cart_deriv1", water_points) @ six_d_seven_f(pmol)
    np.testing.assert_allclose(np.asarray(ours), ref, atol=1e-10, rtol=0)


@pytest.mark.slow  # the f shells' integral programs compile for minutes on a cold cache
def test_integrals_6d7f_equal_transformed_pyscf(water):
    bas = basis.build(water, "6-31g(2df,p)", "6d7f")
    pmol = water.to_pyscf("6-31g(2df,p)", cart=True)
    c = six_d_seven_f(pmol)
    for got, key in zip(integrals.one_electron_integrals(water, bas), ONE_ELECTRON):
        np.testing.assert_allclose(np.asarray(got), c.T @ pmol.intor(key) @ c, atol=1e-10, rtol=0)
    ref = ao2mo.restore(8, ao2mo.incore.full(pmol.intor("int2e", aosym="s8"), c), bas.nao)
    assert np.max(np.abs(np.asarray(integrals.eri(water, bas)) - ref)) < 1e-10


# -- SCF ---------------------------------------------------------------------------------------


@pytest.mark.slow  # polarised basis sets compile minutes of integral programs on a cold cache
@pytest.mark.parametrize("xc", ["b3lyp", "hf"])
def test_cartesian_scf_equals_pyscf_cart(water, xc):
    result = run_dft(water, "accurate", xc=xc, basis="6-31g*", shells="cartesian",
                     forces=xc == "hf", **CONVERGED)
    mf, e, homo, lumo = pyscf_reference(water, "6-31g*", xc, grid_level=3, cart=True)
    assert result.nao == mf.mol.nao == 19
    assert abs(result.energy_ha - e) < 1e-7
    assert abs(result.homo_ha - homo) < 1e-6 and abs(result.lumo_ha - lumo) < 1e-6
    if xc == "hf":
        np.testing.assert_allclose(result.forces_ha_bohr, -mf.nuc_grad_method().kernel(),
                                   atol=1e-6)


@pytest.mark.slow  # the f shells' integral programs compile for minutes on a cold cache
def test_6d7f_hartree_fock_equals_pyscf_on_transformed_integrals(water):
    name = "6-31g(2df,p)"
    result = run_dft(water, "accurate", xc="hf", basis=name, shells="6d7f", **CONVERGED)
    pmol = water.to_pyscf(name, cart=True)
    c = six_d_seven_f(pmol)
    mf = scf.RHF(pmol)
    mf.get_hcore = lambda *_: c.T @ (pmol.intor("int1e_kin") + pmol.intor("int1e_nuc")) @ c
    mf.get_ovlp = lambda *_: c.T @ pmol.intor("int1e_ovlp") @ c
    mf._eri = ao2mo.incore.full(pmol.intor("int2e", aosym="s8"), c)
    mf.init_guess, mf.conv_tol = "1e", 1e-11
    mf.kernel()
    n = pmol.nelectron // 2
    assert mf.converged and result.nao == c.shape[1]
    assert abs(result.energy_ha - mf.e_tot) < 1e-7
    assert abs(result.homo_ha - mf.mo_energy[n - 1]) < 1e-6
    assert abs(result.lumo_ha - mf.mo_energy[n]) < 1e-6
