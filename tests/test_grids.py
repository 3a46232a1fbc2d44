"""Molecular grids against PySCF's default `dft.gen_grid.Grids` (levels 0 to 9)."""

import jax
import numpy as np
import pytest
from pyscf import dft, scf
from pyscf.dft import radi
from pyscf.dft.LebedevGrid import MakeAngularGrid

from dftgen import Molecule, grids
from dftgen.grids import lebedev
from dftgen.grids.radial import treutler_ahlrichs

TEN_HEAVY_SMILES = "CC1=NOC(C)=C1C(N)=O"
HEAVY_ROWS_SMILES = "ClCC(Br)S"  # periods 3 and 4: other radial/angular sizes and pruning


@pytest.fixture(scope="module")
def ten_heavy():
    return Molecule.from_smiles(TEN_HEAVY_SMILES, seed=0)


@pytest.fixture(scope="module")
def heavy_rows():
    return Molecule.from_smiles(HEAVY_ROWS_SMILES, seed=0)


def pyscf_grid(mol, level):
    g = dft.gen_grid.Grids(mol.to_pyscf("sto-3g"))
    g.level = level
    return g.build()


def assert_same_grid(ours, theirs):
    assert ours.points.shape == theirs.coords.shape
    np.testing.assert_allclose(ours.points, theirs.coords, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours.weights, theirs.weights, rtol=1e-12, atol=1e-13)


# -- pieces ------------------------------------------------------------------------------


def test_lebedev_grids_equal_pyscf_point_for_point():
    for n in lebedev.sizes():
        points, weights = lebedev.grid(n)
        ref = MakeAngularGrid(n)
        np.testing.assert_array_equal(points, ref[:, :3])
        np.testing.assert_array_equal(weights, ref[:, 3])


@pytest.mark.parametrize("n", [50, 302, 1454])
def test_lebedev_integrates_polynomials_exactly(n):
    points, weights = lebedev.grid(n)
    x, y, z = points.T
    assert abs(weights.sum() - 1.0) < 1e-14
    assert abs(weights @ x**2 - 1 / 3) < 1e-14
    assert abs(weights @ (x**2 * y**2 * z**2) - 1 / 105) < 1e-14  # <x^2 y^2 z^2> on the sphere
    assert abs(weights @ (x**3 * y)) < 1e-14


def test_lebedev_unknown_size():
    with pytest.raises(ValueError, match="no Lebedev grid"):
        lebedev.grid(51)


@pytest.mark.parametrize("z", [1, 6, 8, 17, 35])
def test_treutler_ahlrichs_radial_grid(z):
    r, w = treutler_ahlrichs(75, z)
    r_ref, w_ref = radi.treutler(75, z)
    np.testing.assert_allclose(r, r_ref, rtol=1e-14)
    np.testing.assert_allclose(w, w_ref, rtol=1e-14)
    # int_0^inf exp(-r^2) r^2 dr = sqrt(pi) / 4
    assert abs(w @ (np.exp(-r**2) * r**2) - np.sqrt(np.pi) / 4) < 1e-10


# -- molecular grids ---------------------------------------------------------------------


@pytest.mark.parametrize("level", range(10))
def test_water_grid_equals_pyscf_at_every_level(water, level):
    assert_same_grid(grids.build(water, level), pyscf_grid(water, level))


@pytest.mark.parametrize("level", [0, 3])
def test_grid_equals_pyscf(benzene, ten_heavy, heavy_rows, level):
    for mol in (benzene, ten_heavy, heavy_rows):
        grid = grids.build(mol, level)
        assert grid.size % 8 == 0
        assert_same_grid(grid, pyscf_grid(mol, level))


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 2, 4, 5, 6, 7, 8, 9])
def test_grid_equals_pyscf_high_levels(benzene, ten_heavy, heavy_rows, level):
    for mol in (benzene, ten_heavy, heavy_rows):
        assert_same_grid(grids.build(mol, level), pyscf_grid(mol, level))


def guess_density(pmol):
    """PySCF's minao guess density matrix: a real molecular density, cheap to get."""
    return scf.RHF(pmol).get_init_guess(key="minao")


def density_on(pmol, dm, points):
    ao = pmol.eval_gto("GTOval_sph", points)
    return np.einsum("gi,ij,gj->g", ao, dm, ao)


@pytest.mark.parametrize("level", [0, 3])
def test_integrals_equal_those_on_pyscf_grid(water, benzene, ten_heavy, level):
    for mol in (water, benzene, ten_heavy):
        pmol = mol.to_pyscf("6-31g")
        ours, theirs = grids.build(mol, level), pyscf_grid(mol, level)
        dm = guess_density(pmol)
        n_ours = ours.weights @ density_on(pmol, dm, ours.points)
        n_theirs = theirs.weights @ density_on(pmol, dm, theirs.coords)
        assert abs(n_ours - n_theirs) < 1e-9
        n_exact = np.einsum("ij,ji->", dm, pmol.intor("int1e_ovlp"))
        assert abs(n_ours - n_exact) < {0: 1e-3, 3: 1e-5}[level] * n_exact  # quadrature error

        def smooth(p):  # one unit Gaussian per atom: integral pi^(3/2) each
            d2 = ((p[:, None, :] - mol.positions[None]) ** 2).sum(-1)
            return np.exp(-d2).sum(axis=1)

        s_ours, s_theirs = ours.weights @ smooth(ours.points), theirs.weights @ smooth(theirs.coords)
        assert abs(s_ours - s_theirs) < 1e-9
        exact = mol.natoms * np.pi**1.5
        assert abs(s_ours - exact) < {0: 1e-3, 3: 1e-6}[level] * exact  # quadrature error


@pytest.mark.parametrize("level", [0, 3])
def test_size_is_the_built_grids_from_the_elements_alone(water, ten_heavy, heavy_rows, level):
    for mol in (water, ten_heavy, heavy_rows):
        assert grids.size(mol.numbers, level) == grids.build(mol, level).size
    # C and N have atomic grids of different sizes: one basis structure, two grids
    assert grids.size([6, 1, 1, 1, 1], 0) != grids.size([7, 1, 1, 1, 1], 0)


def test_bad_level(water):
    with pytest.raises(ValueError, match="level"):
        grids.build(water, 10)


def test_grid_is_a_pytree(water):
    grid = grids.build(water, 0)
    leaves = jax.tree_util.tree_leaves(grid)
    assert len(leaves) == 2
    total = jax.jit(lambda g: g.weights.sum())(grid)
    assert abs(float(total) - grid.weights.sum()) < 1e-5 * grid.weights.sum()  # float32 sum


# -- padding for batches -----------------------------------------------------------------


def test_pad_adds_zero_weight_points_inside_the_molecule(water):
    grid = grids.build(water, 0)
    padded = grids.pad(grid, grid.size + 100)
    assert padded.points.shape == (grid.size + 100, 3)
    np.testing.assert_array_equal(padded.points[: grid.size], grid.points)
    np.testing.assert_array_equal(padded.weights[: grid.size], grid.weights)
    assert np.all(padded.weights[grid.size :] == 0.0)
    # the padding points see a real density: nothing underflows there
    pmol = water.to_pyscf("sto-3g")
    rho = density_on(pmol, guess_density(pmol), padded.points[grid.size :])
    assert np.all(rho > 1e-3)
    with pytest.raises(ValueError, match="cannot pad"):
        grids.pad(grid, grid.size - 1)
