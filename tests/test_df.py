"""Density fitting against PySCF with the same auxiliary basis: the integrals (ij|P) and
(P|Q) to 1e-10, J and K to 1e-10, and converged SCF energies against `mf.density_fit()`
(|dE| <= 1e-7 Ha, |dHOMO|, |dLUMO| <= 1e-6 Ha, docs/numerics.md's float64 contract)."""

import dataclasses

import numpy as np
import pytest
from dftgen import run_dft
from dftgen import scf as dftgen_scf
from dftgen.basis import BasisError, build
from dftgen.cli import main
from dftgen.integrals import df, jk, triangle, two_electron
from dftgen.integrals.auxiliary import metric, three_centre
from dftgen.presets import PRESETS, Settings
from dftgen.scf import problem
from pyscf import scf
from pyscf.df import addons, incore
from pyscf_cases import pyscf_reference

CONVERGED = dict(mode="converge", precision="float64", conv_tol=1e-11, conv_tol_grad=1e-7,
                 max_iter=100)


@pytest.mark.parametrize("molecule, basis, auxbasis, shells", [
    ("water", "6-31g*", "cc-pvdz-jkfit", "spherical"),
    pytest.param("nine_heavy", "6-31g*", "cc-pvdz-jkfit", "spherical", marks=pytest.mark.slow),
    # g functions in the auxiliary basis
    pytest.param("water", "def2-svp", "def2-universal-jkfit", "spherical", marks=pytest.mark.slow),
    # PySCF's auxmol inherits cart=True: Cartesian d, f and g
    pytest.param("water", "def2-svp", "def2-universal-jkfit", "cartesian", marks=pytest.mark.slow),
])
def test_integrals_match_pyscf(request, molecule, basis, auxbasis, shells):
    mol = request.getfixturevalue(molecule)
    aux = df.auxiliary_basis(mol, basis, auxbasis, shells)
    pmol = mol.to_pyscf(basis, cart=shells == "cartesian")
    auxmol = addons.make_auxmol(pmol, auxbasis)
    expected = incore.aux_e2(pmol, auxmol, "int3c2e").transpose(2, 0, 1)
    bas = build(mol, basis, shells)
    np.testing.assert_allclose(three_centre(mol, bas, aux), expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(metric(mol, aux), auxmol.intor("int2c2e"), rtol=0, atol=1e-10)


def test_every_molecule_size_runs_the_programs_of_the_first(water):
    """Concrete positions take programs shared by every molecule size: after water,
    hydrogen peroxide (the same kinds of shells, other sizes) compiles nothing and equals
    PySCF, and its own one-program (ij|P) (the traced path forces take) to 1e-13."""
    from dftgen import Molecule
    from dftgen.integrals import auxiliary
    from dftgen.integrals.layout import layout_and_arrays

    def fitted(mol):
        aux = df.auxiliary_basis(mol, "6-31g*", "cc-pvdz-jkfit", "spherical")
        return aux, build(mol, "6-31g*", "spherical")

    aux, bas = fitted(water)
    three_centre(water, bas, aux), metric(water, aux)
    before = (auxiliary._tile_values.cache_size(), auxiliary._function_chunk.cache_size())
    peroxide = Molecule.from_smiles("OO", seed=0)
    aux, bas = fitted(peroxide)
    got = np.asarray(three_centre(peroxide, bas, aux))
    assert (auxiliary._tile_values.cache_size(), auxiliary._function_chunk.cache_size()) == before
    whole = auxiliary._three_centre(*layout_and_arrays(peroxide, bas), *layout_and_arrays(peroxide, aux), 0.0)
    assert np.max(np.abs(got - np.asarray(whole))) < 1e-13
    pmol = peroxide.to_pyscf("6-31g*")
    auxmol = addons.make_auxmol(pmol, "cc-pvdz-jkfit")
    assert np.max(np.abs(metric(peroxide, aux) - auxmol.intor("int2c2e"))) < 1e-10


def test_three_centre_primitive_by_primitive_in_runs_matches_pyscf(monkeypatch):
    """Concrete positions compute (ij|P) primitive by primitive, without the padding of
    6-31G*'s shells to six primitives and without primitives below the screening threshold
    (butane's distant pairs have some), summed into contracted integrals: equal to PySCF to
    1e-10, and cut into runs of a few pairs (a 64 kB block) to 1e-14 of the whole."""
    from dftgen import Molecule
    from dftgen.integrals import auxiliary
    from dftgen.integrals.eri import _class_order
    from dftgen.integrals.eri_stepwise import class_data_and_bounds
    from dftgen.integrals.layout import layout_and_arrays

    mol = Molecule.from_smiles("CCCC", seed=0)
    bas = build(mol, "6-31g*", "spherical")
    aux = df.auxiliary_basis(mol, "6-31g*", "cc-pvdz-jkfit", "spherical")
    (layout, arrays), (aux_layout, aux_arrays) = layout_and_arrays(mol, bas), layout_and_arrays(mol, aux)
    bounds = [class_data_and_bounds(layout, c, arrays)[1] for c in _class_order(layout)]
    padded = sum(b.size for b in bounds)
    nonzero = sum(np.count_nonzero(b) for b in bounds)
    assert nonzero < 0.5 * padded  # what padding to the longest contraction would compute
    whole = auxiliary.three_centre_stepwise(layout, arrays, aux_layout, aux_arrays)
    pmol = mol.to_pyscf("6-31g*")
    expected = incore.aux_e2(pmol, addons.make_auxmol(pmol, "cc-pvdz-jkfit"), "int3c2e")
    i, j, _, _ = triangle.pairs(bas.nao)
    assert np.max(np.abs(whole - expected[i, j].T)) < 1e-10
    monkeypatch.setattr(auxiliary, "THREE_CENTRE_BLOCK_BYTES", 64 << 10)
    runs = auxiliary.three_centre_stepwise(layout, arrays, aux_layout, aux_arrays)
    assert np.max(np.abs(runs - whole)) < 1e-14


def test_default_auxiliary_basis_is_pyscfs(water):
    assert df.auxiliary_basis(water, "6-31g*").name == "cc-pvdz-jkfit"
    assert df.default_auxbasis(water, "def2-svp") == "def2-svp-jkfit"
    with pytest.raises(BasisError, match="even-tempered"):
        df.default_auxbasis(water, "sto-6g")  # PySCF generates functions for it


def test_jk_match_pyscf(water):
    fitted = df.fitted_eri(water, "6-31g*", df.auxiliary_basis(water, "6-31g*"))
    pmol = water.to_pyscf("6-31g*")
    mf = scf.RHF(pmol).density_fit(auxbasis="cc-pvdz-jkfit")
    guess = mf.get_init_guess()
    noise = np.random.default_rng(0).normal(scale=0.01, size=guess.shape)
    dms = np.stack([guess, guess + noise + noise.T])
    j_ref, k_ref = mf.get_jk(pmol, dms)
    j, k = jk(fitted, dms)
    np.testing.assert_allclose(j, j_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(k, k_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(two_electron(fitted, dms[1], 0.2), j[1] - 0.1 * k[1], atol=1e-12)


def test_exchange_from_occupied_orbitals_matches_pyscf(water):
    """K from D = C_occ 2 C_occ^T's orbitals (what the SCF passes) equals PySCF's DF K of D,
    and K from D itself for the 1/r and the erf(omega r)/r tensors (the latter is checked
    against PySCF in test_df_range_separated.py)."""
    aux = df.auxiliary_basis(water, "6-31g*")
    pmol = water.to_pyscf("6-31g*")
    mf = scf.RHF(pmol).density_fit(auxbasis="cc-pvdz-jkfit")
    mo_coeff = scf.hf.eig(mf.get_fock(dm=mf.get_init_guess()), mf.get_ovlp())[1]
    n_occ = water.n_electrons // 2
    orbitals = mo_coeff[:, :n_occ] * np.sqrt(2.0)
    dm = orbitals @ orbitals.T
    fitted = df.fitted_eri(water, "6-31g*", aux)
    _, k_ref = mf.get_jk(pmol, dm)
    np.testing.assert_allclose(df.exchange(fitted, dm, orbitals), k_ref, rtol=0, atol=1e-10)
    for omega in (0.0, 0.3):
        fitted = df.fitted_eri(water, "6-31g*", aux, omega)
        np.testing.assert_allclose(df.exchange(fitted, dm, orbitals), df.exchange(fitted, dm),
                                   rtol=0, atol=1e-12)


def test_exchange_in_blocks_of_the_auxiliary_index_matches_pyscf(water, monkeypatch):
    """K from a density, and from orbitals, with 7 B_P unpacked at a time (the last block
    overlapping the one before) equals PySCF's DF K to 1e-10, for a non-idempotent density
    and for an SCF density."""
    pmol = water.to_pyscf("6-31g*")
    mf = scf.RHF(pmol).density_fit(auxbasis="cc-pvdz-jkfit")
    dm = mf.get_init_guess()
    fitted = df.fitted_eri(water, "6-31g*", df.auxiliary_basis(water, "6-31g*"))
    assert fitted.b.shape == (df.auxiliary_basis(water, "6-31g*").nao, 18 * 19 // 2)
    assert fitted.b.shape[0] % 7 != 0
    monkeypatch.setattr(df, "EXCHANGE_BLOCK_BYTES", 7 * pmol.nao ** 2 * 8)
    _, k_ref = mf.get_jk(pmol, dm)
    np.testing.assert_allclose(df.exchange(fitted, dm), k_ref, rtol=0, atol=1e-10)
    mo_coeff = scf.hf.eig(mf.get_fock(dm=dm), mf.get_ovlp())[1]
    orbitals = mo_coeff[:, :water.n_electrons // 2] * np.sqrt(2.0)
    _, k_ref = mf.get_jk(pmol, orbitals @ orbitals.T)
    np.testing.assert_allclose(df.exchange(fitted, orbitals @ orbitals.T, orbitals), k_ref,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("xc, molecule, level", [
    ("b3lyp", "water", 3),
    ("hf", "water", 0),
    pytest.param("b3lyp", "nine_heavy", 3, marks=pytest.mark.slow),
    pytest.param("hf", "nine_heavy", 0, marks=pytest.mark.slow),
])
def test_scf_matches_pyscf_density_fit(request, xc, molecule, level):
    mol = request.getfixturevalue(molecule)
    result = run_dft(mol, "accurate", xc=xc, grid_level=level, eri="df", **CONVERGED)
    assert result.converged and result.auxbasis == "cc-pvdz-jkfit"
    assert result.to_dict()["two_electron_method"] == "df"
    _, e, homo, lumo = pyscf_reference(mol, "6-31g*", xc, level, auxbasis="cc-pvdz-jkfit")
    assert abs(result.energy_ha - e) <= 1e-7
    assert abs(result.homo_ha - homo) <= 1e-6
    assert abs(result.lumo_ha - lumo) <= 1e-6


#: water to 11 heavy atoms (paracetamol), the closed-shell elements H, C, N, O
WATER_TO_ELEVEN = ["O", "N", "C=O", "CCO", "c1ccoc1", "CC(=O)NC", "c1ccccc1", "Oc1ccccc1CO",
                   "CC1=NOC(C)=C1C(N)=O", "CC(=O)Nc1ccc(O)cc1"]


@pytest.mark.slow
@pytest.mark.parametrize("basis", ["6-31g*", "def2-svp"])
@pytest.mark.parametrize("smiles", WATER_TO_ELEVEN)
def test_df_energies_equal_pyscf_from_water_to_eleven_heavy_atoms(smiles, basis):
    """B3LYP with density fitting (PySCF's default auxiliary basis for each basis) converged
    tightly on both sides: energies within 1e-8 Ha of PySCF's `density_fit()`, HOMO and LUMO
    within 1e-7 Ha (grid level 0, the same on both sides)."""
    from dftgen import Molecule

    mol = Molecule.from_smiles(smiles, seed=0)
    result = run_dft(mol, "accurate", basis=basis, grid_level=0, eri="df",
                     **dict(CONVERGED, conv_tol_grad=1e-8))
    assert result.converged and result.auxbasis == df.default_auxbasis(mol, basis)
    _, e, homo, lumo = pyscf_reference(mol, basis, "b3lyp", 0, auxbasis=result.auxbasis,
                                       conv_tol_grad=1e-8)
    assert abs(result.energy_ha - e) <= 1e-8
    assert abs(result.homo_ha - homo) <= 1e-7
    assert abs(result.lumo_ha - lumo) <= 1e-7


def test_settings_check_eri_and_auxbasis():
    assert Settings().eri == "exact" and Settings().auxbasis is None
    Settings(eri="df", auxbasis="def2-universal-jkfit")
    with pytest.raises(ValueError, match="eri must be one of"):
        Settings(eri="ri")
    with pytest.raises(ValueError, match="auxbasis"):
        Settings(auxbasis="cc-pvdz-jkfit")  # with exact ERIs it would be ignored


def test_auto_picks_df_where_the_exact_eris_do_not_fit(water, monkeypatch):
    settings = dataclasses.replace(PRESETS["accurate"].settings, eri="auto", xc="hf")
    assert dftgen_scf.setup(water, settings).two_electron_method == "exact"
    monkeypatch.setattr(problem, "PAIR_ERI_BYTES", 0)
    chosen = dftgen_scf.setup(water, settings)
    assert chosen.two_electron_method == "df" and chosen.auxbasis.name == "cc-pvdz-jkfit"


def test_hybrid_gga_forces_match_pyscf_density_fit_gradients(water):
    """PBE0 in STO-3G fitted with def2-universal-jkfit (J, K, the auxiliary functions' and
    the XC response): forces within 1e-6 Ha/Bohr of minus PySCF's DF gradient, and made
    without (P|ij) whole under autodiff (block by block, `df_gradient`)."""
    from dftgen.integrals import trace_counts
    settings = dict(basis="sto-3g", xc="pbe0", grid_level=0, eri="df",
                    auxbasis="def2-universal-jkfit")
    before = trace_counts["three_centre"]
    result = run_dft(water, "accurate", forces=True, **settings, **CONVERGED)
    assert trace_counts["three_centre"] == before
    mf, energy, _, _ = pyscf_reference(water, "sto-3g", "pbe0", auxbasis="def2-universal-jkfit")
    assert abs(result.energy_ha - energy) < 1e-8
    np.testing.assert_allclose(result.forces_ha_bohr, -mf.nuc_grad_method().kernel(), rtol=0,
                               atol=1e-6)


def test_force_derivatives_of_a_new_molecule_size_compile_nothing(water):
    """The derivatives forces contract (density fitting's, the one-electron integrals') go
    through programs every molecule size shares: after water, hydrogen peroxide (the same
    kinds of shells) runs the programs water compiled."""
    from dftgen import Molecule
    from dftgen.integrals import auxiliary_gradient, df_gradient, layout_and_arrays
    from dftgen.integrals.one_electron_gradient import _chunk_gradient, one_electron_gradient

    def derivatives(mol):
        bas = build(mol, "sto-3g", "spherical")
        aux = df.auxiliary_basis(mol, "sto-3g", "def2-universal-jkfit", "spherical")
        orbitals = np.random.default_rng(0).normal(size=(bas.nao, 2))
        dm = orbitals @ orbitals.T
        return (df_gradient.gradient(mol, bas, aux, orbitals, 1.0, 0.25),
                one_electron_gradient(*layout_and_arrays(mol, bas), dm, dm))

    derivatives(water)
    before = (auxiliary_gradient._block_gradient.cache_size(), _chunk_gradient.cache_size())
    for gradient in derivatives(Molecule.from_smiles("OO", seed=0)):
        assert np.all(np.isfinite(gradient)) and np.abs(gradient.sum(axis=0)).max() < 1e-8
    assert (auxiliary_gradient._block_gradient.cache_size(), _chunk_gradient.cache_size()) == before


@pytest.mark.slow
def test_forces_match_pyscf_density_fit_gradients(water):
    result = run_dft(water, "accurate", xc="hf", eri="df", forces=True, **CONVERGED)
    mf = scf.RHF(water.to_pyscf("6-31g*")).density_fit(auxbasis="cc-pvdz-jkfit")
    mf.conv_tol = 1e-11
    mf.kernel()
    gradient = mf.nuc_grad_method()
    assert gradient.auxbasis_response  # the auxiliary functions move with their atoms
    np.testing.assert_allclose(result.forces_ha_bohr, -gradient.kernel(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("flags, message", [
    (["--auxbasis", "cc-pvdz-jkfit"], "given only with eri 'df' or 'auto'"),
    (["--eri", "df", "--auxbasis", "no-such-basis"], "unknown basis set 'no-such-basis'"),
])
def test_run_flags_reach_the_settings(flags, message, capsys):
    assert main(["run", "--smiles", "O", *flags]) == 2
    assert message in capsys.readouterr().err


def test_float32_iterations_take_the_fitted_tensor_rounded_once(water):
    result = run_dft(water, "accurate", xc="hf", eri="df", precision="float32", mode="fixed",
                     max_iter=20)
    _, e, homo, lumo = pyscf_reference(water, "6-31g*", "hf", auxbasis="cc-pvdz-jkfit")
    # docs/numerics.md's float32 contract is 1e-4 Ha; the float64 final evaluation with the
    # float64 B leaves far less
    assert abs(result.energy_ha - e) <= 1e-6
    assert abs((result.lumo_ha - result.homo_ha) - (lumo - homo)) <= 1e-5


def test_fitted_eris_in_a_file_equal_those_in_memory(water, monkeypatch):
    """B written to an unlinked temporary file one atom's pairs at a time and read back 7
    rows at a time equals B made in memory to rounding (1e-13: the fit's solves run over
    slabs of other widths), and so do J and K from it, in float64 and rounded to float32
    as read."""
    import jax
    import jax.numpy as jnp
    from dftgen.integrals import stored

    aux = df.auxiliary_basis(water, "6-31g*")
    nao = build(water, "6-31g*").nao
    monkeypatch.setattr(df, "FILE_SLAB_BYTES", 1)  # one atom a slab
    monkeypatch.setattr(df, "EXCHANGE_BLOCK_BYTES", 7 * nao**2 * 8)
    held = df.fitted_eri(water, "6-31g*", aux)
    filed = df.fitted_eri(water, "6-31g*", aux, in_file=True)
    assert isinstance(filed.b, stored.StoredMatrix) and filed.b.shape == held.b.shape
    read = jax.jit(lambda b: stored.rows(b, jnp.int32(0), aux.nao))(filed.b)
    assert np.max(np.abs(read - held.b)) < 1e-13
    orbitals = np.linalg.qr(np.random.default_rng(0).normal(size=(nao, nao)))[0][:, :5]
    dm = orbitals @ orbitals.T
    for dtype, tolerance in ((jnp.float64, 1e-13), (jnp.float32, 1e-5)):
        for fn in (lambda f: df.two_electron(f, dm.astype(dtype), 0.2),
                   lambda f: df.exchange(f, dm.astype(dtype), orbitals.astype(dtype))):
            got, expected = (jax.jit(fn)(df.rounded(f, dtype)) for f in (filed, held))
            assert got.dtype == dtype
            assert np.max(np.abs(got - expected)) < tolerance


def test_scf_with_fitted_eris_in_a_file(water, monkeypatch):
    """Past FITTED_ERI_BYTES B goes to a file: a bucket of two conformers (one vmapped
    program, the reads batched) with a range-separated hybrid (B_lr in a file too) gives
    the energies B in memory gives, to 1e-10 Ha."""
    from dftgen import Molecule
    from dftgen.scf import run_batch

    mols = [water, Molecule.from_smiles("O", seed=1)]
    settings = dataclasses.replace(PRESETS["accurate"].settings, xc="wb97x", eri="df",
                                   grid_level=1, **CONVERGED)
    held = run_batch(mols, settings)
    monkeypatch.setattr(problem, "FITTED_ERI_BYTES", 0)
    assert dftgen_scf.setup(water, settings).fitted_in_file
    filed = run_batch(mols, settings)
    for a, b in zip(filed, held):
        assert abs(a.energy_ha - b.energy_ha) < 1e-10
