"""AO values and gradients on grid points against PySCF's `mol.eval_gto`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dftgen import Molecule, basis, grids
from dftgen.grids import orbitals

BASES = ["sto-3g", "6-31g*", "def2-svp", "6-31g(2df,p)"]  # s to f shells


@pytest.fixture(scope="module")
def water_points(water):
    return grids.build(water, 0).points


@pytest.mark.parametrize("name", BASES)
def test_ao_values_equal_pyscf_float64(water, water_points, name):
    bs = basis.build(water, name)
    ref = water.to_pyscf(name).eval_gto("GTOval_sph_deriv1", water_points)
    ours = np.asarray(grids.ao_values(water, bs, water_points, deriv=1))
    assert ours.shape == (4, len(water_points), bs.nao)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    values = np.asarray(grids.ao_values(water, bs, water_points, deriv=0))
    np.testing.assert_allclose(values, ref[0], rtol=0, atol=1e-10)


def test_ao_values_larger_molecule(nine_heavy):
    points = grids.build(nine_heavy, 0).points[::7]
    bs = basis.build(nine_heavy, "6-31g(2df,p)")
    ref = nine_heavy.to_pyscf("6-31g(2df,p)").eval_gto("GTOval_sph_deriv1", points)
    ours = np.asarray(grids.ao_values(nine_heavy, bs, points, deriv=1))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["sto-3g", "6-31g(2df,p)"])
def test_ao_values_float32(water, water_points, name):
    """float32 evaluation is within 1e-5 of the largest value. The comparison is at the
    float32-rounded inputs: rounding coordinates of ~5 Bohr to float32 alone moves the
    gradients of tight core functions by ~2e-5 of their maximum, whoever evaluates them."""
    points32 = water_points.astype(np.float32)
    mol32 = water.with_positions(water.positions.astype(np.float32).astype(np.float64))
    ref = mol32.to_pyscf(name).eval_gto("GTOval_sph_deriv1", points32.astype(np.float64))
    ours = grids.ao_values(water, basis.build(water, name), points32, deriv=1, precision="float32")
    assert ours.dtype == jnp.float32
    assert np.abs(np.asarray(ours, np.float64) - ref).max() < 1e-5 * np.abs(ref).max()


def test_blocks_do_not_change_values(water, water_points):
    bs = basis.build(water, "6-31g*")
    points = water_points[:1001]  # not a multiple of either block size
    a = grids.ao_values(water, bs, points, deriv=1, block_size=64)
    b = grids.ao_values(water, bs, points, deriv=1)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-13)


@pytest.mark.parametrize("deriv", [0, 1])
def test_ao_major_layout_against_pyscf(water, water_points, deriv):
    """ao_major=True gives the AO-major arrays the XC kernel takes: (4, nao, npts) or
    (nao, npts), PySCF's values transposed, also when the points are fewer than a block."""
    bs = basis.build(water, "6-31g*")
    ref = water.to_pyscf("6-31g*").eval_gto("GTOval_sph_deriv1", water_points)
    for points, expected in ((water_points, ref), (water_points[:7], ref[:, :7])):
        ours = np.asarray(grids.ao_values(water, bs, points, deriv=deriv, ao_major=True))
        expected = np.swapaxes(expected if deriv else expected[0], -1, -2)
        assert ours.shape == expected.shape
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)


def test_gradient_with_respect_to_positions(water, water_points):
    """d phi_i(r; A) / dA = -d phi_i / dr for AOs on atom A, through jax.grad."""
    bs = basis.build(water, "6-31g*")
    points = water_points[::5]
    weights = np.random.default_rng(0).normal(size=(len(points), bs.nao))

    def f(positions):
        return jnp.sum(weights * grids.ao_values(water.with_positions(positions), bs, points))

    grad = np.asarray(jax.grad(f)(jnp.asarray(water.positions)))
    ref = water.to_pyscf("6-31g*").eval_gto("GTOval_sph_deriv1", points)
    expected = np.zeros((water.natoms, 3))
    for atom in range(water.natoms):
        on_atom = bs.ao_atom == atom
        expected[atom] = -np.einsum("gi,xgi->x", weights[:, on_atom], ref[1:, :, on_atom])
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-10)


def test_second_derivatives_finite_at_a_nucleus(water):
    bs = basis.build(water, "def2-svp")
    points = np.asarray(water.positions)  # every point sits on a nucleus

    def f(positions):
        return jnp.sum(grids.ao_values(water.with_positions(positions), bs, points, deriv=1) ** 2)

    grad = jax.grad(f)(jnp.asarray(water.positions))
    assert np.all(np.isfinite(np.asarray(grad)))


def two_diatomics():
    """CO and N2: different elements and bond lengths, one STO-3G shape bucket."""
    co = Molecule(numbers=[6, 8], positions=[[0.0, 0.0, 0.0], [0.0, 0.0, 2.13]])
    nn = Molecule(numbers=[7, 7], positions=[[0.1, 0.0, 0.0], [0.1, 0.3, 2.07]])
    return co, nn


def test_one_shape_bucket_one_compiled_program():
    co, nn = two_diatomics()
    b_co, b_nn = basis.build(co, "sto-3g"), basis.build(nn, "sto-3g")
    assert b_co.shape_key == b_nn.shape_key
    points = grids.build(co, 0).points[:999]  # a size no other test uses
    before = orbitals._evaluate.cache_size()
    grids.ao_values(co, b_co, points, deriv=1)
    grids.ao_values(nn, b_nn, points, deriv=1)
    assert orbitals._evaluate.cache_size() == before + 1


def test_vmap_over_molecules_of_one_shape_bucket():
    mols = two_diatomics()
    bases = [basis.build(m, "sto-3g") for m in mols]
    points = np.stack([grids.build(m, 0).points[:2000] for m in mols])
    stacked = [np.stack([getattr(b, k) for b in bases]) for k in ("exponents", "coefficients")]
    positions = np.stack([m.positions for m in mols])

    def one(r, e, c, p):
        return grids.ao_values_arrays(bases[0].shape_key, r, e, c, p, deriv=1)

    batch = np.asarray(jax.vmap(one)(positions, *stacked, points))
    for k, m in enumerate(mols):
        ref = m.to_pyscf("sto-3g").eval_gto("GTOval_sph_deriv1", points[k])
        np.testing.assert_allclose(batch[k], ref, rtol=0, atol=1e-10)


def test_padding_points_have_finite_values(water):
    grid = grids.build(water, 0)
    padded = grids.pad(grid, grid.size + 16)
    ao = np.asarray(grids.ao_values(water, basis.build(water, "sto-3g"), padded.points, deriv=1))
    assert np.all(np.isfinite(ao))
    assert np.all(np.abs(ao[0, grid.size :]).max(axis=1) > 1e-3)


def test_bad_deriv(water, water_points):
    with pytest.raises(ValueError, match="deriv"):
        grids.ao_values(water, basis.build(water, "sto-3g"), water_points, deriv=2)


def test_bad_block_size(water, water_points):
    with pytest.raises(ValueError, match="block_size"):
        grids.ao_values(water, basis.build(water, "sto-3g"), water_points, block_size=0)
