"""Symmetric matrices as lower-triangle blocks: dense() and product() against numpy (exact
for float64 blocks up to summation order, 1e-13 relative; a Float32Pair to 2^-48)."""

import jax.numpy as jnp
import numpy as np
import pytest

from dftgen.integrals import symmetric
from dftgen.integrals.symmetric import BLOCK, GROUP, SymmetricBlocks
from dftgen.precision import Float32Pair, enable_x64, remainder

enable_x64()


def _blocks_of(m: np.ndarray) -> np.ndarray:
    """The stored blocks of a dense symmetric matrix, by the layout's element indices."""
    n = len(m)
    p, q = symmetric.element_indices(n)
    inside = (p < n) & (q < n)
    return np.where(inside, m[np.minimum(p, n - 1), np.minimum(q, n - 1)], 0.0)


def _symmetric(n, seed=0):
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a + a.T


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1400])
def test_dense_and_product_equal_numpy(n):
    """n = 1400: 22 x 22 blocks, 253 stored, not a multiple of GROUP (the last group of a
    Float32Pair's product overlaps the one before)."""
    m = _symmetric(n)
    blocks = _blocks_of(m)
    nb = -(-n // BLOCK)
    assert blocks.shape == (nb * (nb + 1) // 2, BLOCK, BLOCK)
    assert symmetric.n_stored(n) == len(blocks)
    assert symmetric.stored_elements(n) == blocks.size
    v = np.random.default_rng(1).normal(size=n)
    reference = m @ v
    plain = SymmetricBlocks(jnp.asarray(blocks))
    np.testing.assert_array_equal(np.asarray(plain.dense(n)), m)
    scale = np.abs(m) @ np.abs(v)
    assert np.all(np.abs(np.asarray(plain.product(jnp.asarray(v))) - reference) <= 1e-13 * scale)

    hi = jnp.asarray(blocks, jnp.float32)
    pair = SymmetricBlocks(Float32Pair(hi, remainder(jnp.asarray(blocks), hi)))
    if n == 1400:
        assert pair.n_blocks % GROUP != 0
    assert np.all(np.abs(np.asarray(pair.dense(n)) - m) <= 2.0**-48 * np.abs(m).max())
    out = pair.product(jnp.asarray(v))
    assert out.dtype == jnp.float64
    # float32 blocks and a float64 vector: the product is float64, as for arrays
    assert SymmetricBlocks(hi).product(jnp.asarray(v)).dtype == jnp.float64
    assert np.all(np.abs(np.asarray(out) - reference) <= 2.0**-47 * scale + 1e-13 * scale)


def test_blocks_of_another_size_are_refused():
    blocks = SymmetricBlocks(jnp.zeros((3, BLOCK, BLOCK)))
    with pytest.raises(ValueError, match=r"shape \(3, 64, 64\) do not hold an \(200, 200\) "
                                         r"matrix \(expected \(10, 64, 64\)\)"):
        blocks.product(jnp.zeros(200))
