"""dftgen.xc.vxc against PySCF's NumInt.nr_rks on PySCF's grid and AO values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf import dft, scf

from dftgen import Molecule, basis
from dftgen.grids import AOSource
from dftgen.xc import functional, vxc
from pyscf_cases import water_on_pyscf_grid

SEMILOCAL = ["lda", "svwn", "blyp", "pbe", "b3lyp", "b3lyp5", "pbe0"]


@pytest.fixture(scope="module")
def water_case(water):
    """PySCF water (6-31G*), its level-1 grid, AO values with gradients, and a minao density."""
    return water_on_pyscf_grid(water, level=1)


@pytest.mark.parametrize("name", SEMILOCAL)
def test_matches_nr_rks_float64(name, water_case):
    mol, grids, ao, dm = water_case
    n_ref, e_ref, v_ref = dft.numint.NumInt().nr_rks(mol, grids, name, dm)
    n, e, v = vxc(name, ao, grids.weights, dm)
    assert abs(float(n) - n_ref) <= 1e-9
    assert abs(float(e) - e_ref) <= 1e-9
    assert np.max(np.abs(np.asarray(v) - v_ref)) <= 1e-9


@pytest.mark.parametrize("name", ["svwn", "b3lyp5", "pbe"])
def test_matches_nr_rks_float32(name, water_case):
    mol, grids, ao, dm = water_case
    _, e_ref, v_ref = dft.numint.NumInt().nr_rks(mol, grids, name, dm)
    _, e, v = vxc(name, ao, grids.weights, dm, precision="float32")
    assert e.dtype == jnp.float32 and v.dtype == jnp.float32
    assert abs(float(e) - e_ref) <= 1e-5 * abs(e_ref)
    assert np.max(np.abs(np.asarray(v, np.float64) - v_ref)) <= 1e-5 * np.max(np.abs(v_ref))


def test_hf_has_no_semilocal_part(water_case):
    mol, grids, ao, dm = water_case
    n_ref = dft.numint.NumInt().nr_rks(mol, grids, "lda", dm)[0]
    n, e, v = vxc("hf", ao[0], grids.weights, dm)
    assert float(n) == pytest.approx(n_ref, abs=1e-9)
    assert float(e) == 0.0 and not np.any(np.asarray(v))


def test_lda_takes_values_only(water_case):
    _, grids, ao, dm = water_case
    with_gradients = vxc("svwn", ao, grids.weights, dm)
    values_only = vxc("svwn", ao[0], grids.weights, dm)
    for a, b in zip(with_gradients, values_only):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-13)
    with pytest.raises(ValueError):
        vxc("b3lyp", ao[0], grids.weights, dm)


def test_chunking_changes_nothing(water_case):
    """Chunks of 1000 points (the grid is not a multiple of it) against one block."""
    _, grids, ao, dm = water_case
    assert len(grids.weights) % 1000
    chunked = vxc("b3lyp", ao, grids.weights, dm, chunk_size=1000)
    whole = vxc("b3lyp", ao, grids.weights, dm, chunk_size=len(grids.weights))
    for a, b in zip(chunked, whole):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["b3lyp", "svwn"])
def test_density_from_orbitals_changes_nothing(name, water, water_case):
    """The density's factor (dm = L L^T, L of water's minao density: 7 columns)
    gives the dm's result to 1e-12, and PySCF's nr_rks to 1e-9, on held values, an
    AOSource and a screened source; a factor of nao / 2 columns or more is not taken."""
    from dftgen.grids import screen

    mol, grids, ao, dm = water_case
    w, v = np.linalg.eigh(dm)
    factor = v[:, w > 1e-12] * np.sqrt(w[w > 1e-12])
    assert factor.shape[1] == 7 and np.max(np.abs(factor @ factor.T - dm)) < 1e-13
    source = AOSource.of(water, basis.build(water, "6-31g*", "spherical"), grids.coords, 1)
    n_ref, e_ref, v_ref = dft.numint.NumInt().nr_rks(mol, grids, name, dm)
    for values in (ao, source, screen(source, chunk=1024)):
        from_dm = vxc(name, values, grids.weights, dm, chunk_size=1000)
        from_orbitals = vxc(name, values, grids.weights, dm, orbitals=factor, chunk_size=1000)
        for a, b in zip(from_orbitals, from_dm):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)
        assert abs(float(from_orbitals[1]) - e_ref) <= 1e-9
        assert np.max(np.abs(np.asarray(from_orbitals[2]) - v_ref)) <= 1e-9
    # too wide to save products: ignored, so even a wrong factor changes nothing
    wide = np.zeros((dm.shape[0], 10))
    for a, b in zip(vxc(name, ao, grids.weights, dm, orbitals=wide), vxc(name, ao, grids.weights, dm)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_chunk_points_cut_the_grid_evenly():
    """Held values of at most CHUNK_BYTES a chunk, equal chunks of whole 256s of points."""
    from dftgen.xc.vxc import CHUNK_BYTES, chunk_points

    assert chunk_points(15776, 4 * 58 * 4) == 15776  # a QM1B level-0 grid: one chunk
    per_point = 4 * 156 * 8  # 6-31G* at 10 heavy atoms, float64
    size = chunk_points(219144, per_point)
    assert size % 256 == 0 and size * per_point <= CHUNK_BYTES + 256 * per_point
    assert -(-219144 // size) == -(-219144 * per_point // CHUNK_BYTES)


@pytest.mark.parametrize("name", ["b3lyp", "svwn"])
def test_ao_source_matches_nr_rks(name, water, water_case):
    """AO values evaluated chunk by chunk from an AOSource of PySCF's grid points equal
    PySCF's nr_rks to 1e-9 and the stored values' result to 1e-12; zero-weight padding
    points (the last point repeated) change nothing."""
    mol, grids, ao, dm = water_case
    source = AOSource.of(water, basis.build(water, "6-31g*", "spherical"), grids.coords, 1)
    n_ref, e_ref, v_ref = dft.numint.NumInt().nr_rks(mol, grids, name, dm)
    stored = vxc(name, ao, grids.weights, dm)
    evaluated = vxc(name, source, grids.weights, dm, chunk_size=1000)
    assert abs(float(evaluated[0]) - n_ref) <= 1e-9
    assert abs(float(evaluated[1]) - e_ref) <= 1e-9
    assert np.max(np.abs(np.asarray(evaluated[2]) - v_ref)) <= 1e-9
    padded = vxc(name, source.padded(source.npts + 700), np.pad(grids.weights, (0, 700)), dm,
                 chunk_size=1000)
    for a, b, c in zip(stored, evaluated, padded):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.asarray(c), np.asarray(a), rtol=0, atol=1e-12)
    values_only = AOSource.of(water, basis.build(water, "6-31g*", "spherical"), grids.coords, 0)
    with pytest.raises(ValueError, match="GGA: its AOSource must have deriv=1"):
        vxc("b3lyp", values_only, grids.weights, dm)


@pytest.mark.parametrize("name", ["b3lyp", "svwn"])
def test_screened_source_matches_nr_rks(name):
    """A screened source (each chunk of points evaluates and multiplies only the shells
    whose values or gradients reach 1e-12 on it) of PySCF's grid on butane in def2-SVP
    drops over a tenth of the (AO, chunk) pairs and equals PySCF's nr_rks to 1e-9 and the
    unscreened source to 1e-12, with its values evaluated at every build or held."""
    from dftgen.grids import hold, screen
    from dftgen.grids import screened as screened_mod
    from dftgen.grids.screened import kept_fraction

    mol = Molecule.from_smiles("CCCC", seed=0)
    pmol = mol.to_pyscf("def2-svp")
    grid = dft.gen_grid.Grids(pmol)
    grid.level = 1
    grid.build()
    dm = scf.RKS(pmol).get_init_guess()
    source = AOSource.of(mol, basis.build(mol, "def2-svp", "spherical"), grid.coords, 1)
    screened = screen(source, chunk=1024)
    assert kept_fraction(screened) < 0.9
    n_ref, e_ref, v_ref = dft.numint.NumInt().nr_rks(pmol, grid, name, dm)
    got = vxc(name, screened, grid.weights, dm)
    assert abs(float(got[0]) - n_ref) <= 1e-9
    assert abs(float(got[1]) - e_ref) <= 1e-9
    assert np.max(np.abs(np.asarray(got[2]) - v_ref)) <= 1e-9
    unscreened = vxc(name, source, grid.weights, dm)
    for a, b in zip(got, unscreened):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)
    # held values: every group, or those of the first group only (the rest evaluated)
    first = screened_mod.value_bytes(screened, screened.groups[0])
    for budget, held in ((1 << 40, len(screened.groups)), (first, 1)):
        some = hold(screened, budget)
        assert sum(v is not None for v in some.held) == held
        for a, b in zip(vxc(name, some, grid.weights, dm), unscreened):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)


def test_potential_is_the_derivative_of_the_energy(water_case):
    """V_ij = dE_xc/dD_ij: autodiff of E_xc through a jitted vxc, symmetrised, equals V; the
    derivative with respect to the AO values is finite too (what a trainer differentiates)."""
    _, grids, ao, dm = water_case
    ao, weights = jnp.asarray(ao), jnp.asarray(grids.weights)

    def energy(dm, ao):
        return vxc("b3lyp", ao, weights, dm, chunk_size=2000)[1]

    grad_dm, grad_ao = jax.jit(jax.grad(energy, argnums=(0, 1)))(jnp.asarray(dm), ao)
    _, _, v = vxc("b3lyp", ao, weights, dm)
    np.testing.assert_allclose(0.5 * (grad_dm + grad_dm.T), v, rtol=0, atol=1e-11)
    assert bool(jnp.all(jnp.isfinite(grad_ao)))


def test_float32_potential_derivative_is_finite(water_case):
    """d V_xc / d D in float32 (second derivatives of the functional, as a trainer that
    differentiates through SCF steps needs) is finite on a grid whose tails reach rho < 1e-20."""
    _, grids, ao, dm = water_case
    assert np.min(np.einsum("pi,ij,pj->p", ao[0], dm, ao[0])) < 1e-20
    ao32, weights = jnp.asarray(ao, jnp.float32), jnp.asarray(grids.weights, jnp.float32)
    probe = jnp.asarray(np.random.default_rng(0).normal(size=dm.shape), jnp.float32)

    def projected_potential(dm):
        return jnp.sum(probe * vxc("b3lyp", ao32, weights, dm, precision="float32")[2])

    grad = jax.jit(jax.grad(projected_potential))(jnp.asarray(dm, jnp.float32))
    assert grad.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(grad)))
    assert float(jnp.max(jnp.abs(grad))) > 0


def test_functional_objects_are_accepted(water_case):
    _, grids, ao, dm = water_case
    by_object = vxc(functional("pbe0"), ao, grids.weights, dm)[1]
    assert float(by_object) == float(vxc("PBE0", ao, grids.weights, dm)[1])
