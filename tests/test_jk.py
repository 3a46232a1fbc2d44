"""J and K against pyscf.scf.hf.get_jk, from packed, dense and pair-matrix ERIs: 1e-10 max abs
in float64, 1e-6 of max |ERI| in float32."""

import jax
import jax.numpy as jnp
import numpy as np
from pyscf.scf import hf

from dftgen import integrals


def _densities(nao, n, seed=0):
    a = np.random.default_rng(seed).normal(size=(n, nao, nao))
    return (a + a.transpose(0, 2, 1)) / nao


def test_packed_dense_and_pair_matrices_equal_pyscf(water):
    pm = water.to_pyscf("6-31g*")  # d shells: pairs of every kind
    dms = _densities(pm.nao, 3)
    j_ref, k_ref = hf.get_jk(pm, dms)
    packed = integrals.eri(water, "6-31g*")
    pairs = integrals.pair_matrices(packed, pm.nao)
    npair = pm.nao * (pm.nao + 1) // 2
    assert pairs.shape == (2, npair, npair)
    np.testing.assert_array_equal(pairs, np.swapaxes(pairs, 1, 2))  # symmetric supermatrices
    for eri in (packed, integrals.unpack(packed, pm.nao), pairs):
        j, k = jax.jit(integrals.jk)(eri, jnp.asarray(dms))
        assert j.shape == k.shape == dms.shape
        assert np.max(np.abs(np.asarray(j) - j_ref)) < 1e-10
        assert np.max(np.abs(np.asarray(k) - k_ref)) < 1e-10
    j1, k1 = integrals.jk(packed, jnp.asarray(dms[0]))
    assert np.max(np.abs(np.asarray(j1) - j_ref[0])) < 1e-10
    assert np.max(np.abs(np.asarray(k1) - k_ref[0])) < 1e-10


def test_pair_matrices_and_packed_eris_of_the_wrong_size_are_refused(water):
    import pytest

    pairs = integrals.pair_matrices(integrals.eri(water, "sto-3g"), 7)
    with pytest.raises(ValueError, match=r"pair ERI matrices of shape \(2, 28, 28\).*8 orbitals"):
        integrals.jk(pairs, jnp.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"packed ERIs of shape \(406,\) do not match nao=8"):
        integrals.pair_matrices(integrals.eri(water, "sto-3g"), 8)


def test_float32(nine_heavy):
    pm = nine_heavy.to_pyscf("sto-3g")
    dm = _densities(pm.nao, 1, seed=2)[0]
    j_ref, k_ref = hf.get_jk(pm, dm)
    eri = integrals.eri(nine_heavy, "sto-3g", precision="float32")
    scale = np.max(np.abs(np.asarray(eri)))
    for layout in (eri, integrals.pair_matrices(eri, pm.nao)):
        j, k = integrals.jk(layout, jnp.asarray(dm, jnp.float32))
        assert j.dtype == jnp.float32
        assert np.max(np.abs(np.asarray(j, np.float64) - j_ref)) < 1e-6 * scale * np.abs(dm).sum()
        assert np.max(np.abs(np.asarray(k, np.float64) - k_ref)) < 1e-6 * scale * np.abs(dm).sum()


def test_two_electron_is_j_minus_half_hybrid_k_in_every_layout(water):
    """G = J - a/2 K from the combined supermatrix equals it from J and K (1e-12, float64)."""
    nao = 7
    dm = jnp.asarray(_densities(nao, 1, seed=3)[0])
    packed = integrals.eri(water, "sto-3g")
    j, k = integrals.jk(packed, dm)
    for hybrid in (0.0, 0.2, 1.0):
        for eri in (packed, integrals.pair_matrices(packed, nao),
                    integrals.fock_supermatrix(packed, nao, hybrid)):
            g = integrals.two_electron(eri, dm, hybrid)
            assert np.max(np.abs(np.asarray(g) - np.asarray(j - 0.5 * hybrid * k))) < 1e-12


def test_fock_supermatrix_equals_pyscf_and_refuses_a_wrong_density(water):
    """P from fock_supermatrix is J - 0.1 K of the pair matrices (to rounding) and gives
    J - 0.1 K of hf.get_jk (1e-10, float64, 6-31G*: 171 pairs, 3 x 3 blocks, 6 stored)."""
    import pytest

    pm = water.to_pyscf("6-31g*")
    dm = _densities(pm.nao, 1, seed=4)[0]
    j_ref, k_ref = hf.get_jk(pm, dm)
    packed = integrals.eri(water, "6-31g*")
    p = integrals.fock_supermatrix(packed, pm.nao, 0.2)
    npair = pm.nao * (pm.nao + 1) // 2
    assert p.blocks.shape == (6, 64, 64)
    pairs = np.asarray(integrals.pair_matrices(packed, pm.nao))
    expected = pairs[0] - 0.1 * pairs[1]
    assert np.all(np.abs(np.asarray(p.dense(npair)) - expected) <= 1e-15 * np.abs(expected).max())
    g = integrals.two_electron(p, jnp.asarray(dm), 0.2)
    assert np.max(np.abs(np.asarray(g) - (j_ref - 0.1 * k_ref))) < 1e-10
    with pytest.raises(ValueError, match=r"shape \(6, 64, 64\).*\(28, 28\) matrix "
                                         r"\(expected \(1, 64, 64\)\)"):
        integrals.two_electron(p, jnp.zeros((7, 7)), 0.2)
    with pytest.raises(ValueError, match="holds J - a/2 K only"):
        integrals.jk(p, jnp.asarray(dm))


def test_fock_supermatrix_as_a_float32_pair(water):
    """P as a Float32Pair of blocks: hi is P rounded to float32 and hi + lo is P, both to
    2^-48 of max |P| (each half is gathered by its own program, whose P may differ from
    fock_supermatrix's in the last bits), and G from the pair equals PySCF's J - 0.1 K
    (1e-10, float64); a density of the wrong size is refused, naming both shapes."""
    import pytest

    pm = water.to_pyscf("6-31g*")
    dm = _densities(pm.nao, 1, seed=5)[0]
    j_ref, k_ref = hf.get_jk(pm, dm)
    packed = integrals.eri(water, "6-31g*")
    npair = pm.nao * (pm.nao + 1) // 2
    p = np.asarray(integrals.fock_supermatrix(packed, pm.nao, 0.2).dense(npair))
    pair = integrals.fock_supermatrix(packed, pm.nao, 0.2, True)
    assert pair.blocks.hi.dtype == pair.blocks.lo.dtype == jnp.float32
    hi = np.asarray(type(pair)(pair.blocks.hi).dense(npair), np.float64)
    scale = 2.0**-48 * np.max(np.abs(p))
    assert np.all(np.abs(hi - p) <= 2.0**-24 * np.abs(p) + scale)
    assert np.all(np.abs(np.asarray(pair.dense(npair)) - p) <= scale)
    g = integrals.two_electron(pair, jnp.asarray(dm), 0.2)
    assert g.dtype == jnp.float64
    assert np.max(np.abs(np.asarray(g) - (j_ref - 0.1 * k_ref))) < 1e-10
    with pytest.raises(ValueError, match=r"shape \(6, 64, 64\).*expected \(1, 64, 64\)"):
        integrals.two_electron(pair, jnp.zeros((7, 7)), 0.2)
