"""Symmetric matrices held as the blocks of their lower triangle.

A symmetric (n, n) matrix M is cut into BLOCK x BLOCK blocks on an nb x nb grid
(nb = ceil(n / BLOCK); rows and columns from n on are zero), and only the blocks (I, J)
with I >= J are kept, row by row: block t = I (I + 1) / 2 + J, diagonal blocks whole. That
is about half the memory of M (at the P supermatrices of QM1B molecules, npair 1,300-2,400,
52-54%), and M v reads every block once and applies it twice: M_IJ v_J to the rows of I and,
off the diagonal, M_IJ^T v_I to the rows of J.

The SCF holds Raffenetti's P supermatrix this way (`dftgen.integrals.jk.fock_supermatrix`),
so that its npair^2 / 2 gathers are made once each, not twice.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen.precision import Float32Pair

BLOCK = 64  # rows and columns of a block: 16 kB in float32
GROUP = 16  # blocks applied at a time in a product: 256 kB in float32, in the caches


def n_grid(n: int) -> int:
    """nb, the blocks along each side of an (n, n) matrix."""
    return -(-n // BLOCK)


@functools.lru_cache(maxsize=None)
def grid(nb: int) -> tuple[np.ndarray, np.ndarray]:
    """(I, J) of the stored blocks, each (nb (nb + 1) / 2,), in storage order."""
    return np.tril_indices(nb)


def element_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(p, q): the row (nblocks, BLOCK, 1) and column (nblocks, 1, BLOCK) of M that each
    stored element holds; p or q >= n in the padding."""
    i, j = grid(n_grid(n))
    offsets = np.arange(BLOCK)
    return (i[:, None] * BLOCK + offsets)[:, :, None], (j[:, None] * BLOCK + offsets)[:, None, :]


def n_stored(n: int) -> int:
    """The blocks stored for an (n, n) matrix."""
    nb = n_grid(n)
    return nb * (nb + 1) // 2


def stored_elements(n: int) -> int:
    """The elements the blocks of an (n, n) matrix hold."""
    return n_stored(n) * BLOCK * BLOCK


class SymmetricBlocks(NamedTuple):
    """A symmetric matrix as its lower-triangle blocks (nblocks, BLOCK, BLOCK): an array, or
    a `Float32Pair` of two (a float64 matrix carried in float32 halves)."""

    blocks: jax.Array | Float32Pair

    @property
    def n_blocks(self) -> int:
        return self._hi().shape[-3]

    @property
    def dtype(self):
        """The dtype of the matrix: float64 for a Float32Pair."""
        return jnp.float64 if isinstance(self.blocks, Float32Pair) else self.blocks.dtype

    def _hi(self) -> jax.Array:
        return self.blocks.hi if isinstance(self.blocks, Float32Pair) else self.blocks

    def check(self, n: int) -> None:
        """Raise ValueError unless these are the blocks of an (n, n) matrix."""
        expected = (n_stored(n), BLOCK, BLOCK)
        if tuple(self._hi().shape) != expected:
            raise ValueError(f"symmetric blocks of shape {tuple(self._hi().shape)} do not "
                             f"hold an ({n}, {n}) matrix (expected {expected})")

    def dense(self, n: int) -> jax.Array:
        """M as an (n, n) array (in float64 for a Float32Pair)."""
        self.check(n)
        blocks = self.blocks.value() if isinstance(self.blocks, Float32Pair) else self.blocks
        nb = n_grid(n)
        i, j = grid(nb)
        full = jnp.zeros((nb, nb, BLOCK, BLOCK), blocks.dtype)
        full = full.at[j, i].set(jnp.swapaxes(blocks, 1, 2)).at[i, j].set(blocks)
        return full.transpose(0, 2, 1, 3).reshape(nb * BLOCK, nb * BLOCK)[:n, :n]

    def product(self, v: jax.Array) -> jax.Array:
        """M v (n,) for v (n,), in the wider of the two dtypes (float64 for a Float32Pair,
        as for a product of arrays). The blocks go through GROUP at
        a time, each group applied twice while it is in the caches (a Float32Pair's halves
        added there): in two passes over all blocks, each would stream them from memory."""
        n = v.shape[0]
        self.check(n)
        nb = n_grid(n)
        dtype = jnp.result_type(self.dtype, v.dtype)
        vb = jnp.pad(v.astype(dtype), (0, nb * BLOCK - n)).reshape(nb, BLOCK)
        halves = tuple(self.blocks) if isinstance(self.blocks, Float32Pair) else (self.blocks,)
        size = min(GROUP, self.n_blocks)

        def group(k, out):
            start = jnp.minimum(k * size, self.n_blocks - size)
            index = start + jnp.arange(size)
            # the last group overlaps the one before it: its repeated blocks weigh zero
            fresh = (index >= k * size).astype(dtype)[:, None, None]
            blocks = sum(jax.lax.dynamic_slice_in_dim(h, start, size).astype(dtype)
                         for h in halves)
            return _accumulate(blocks * fresh, vb, index, out)

        out = jax.lax.fori_loop(0, -(-self.n_blocks // size), group, jnp.zeros_like(vb))
        return out.reshape(-1)[:n]


def _accumulate(blocks, vb, index, out):
    """out (nb, BLOCK) plus the contributions of the stored blocks number `index` (k,),
    given as blocks (k, BLOCK, BLOCK), to M v (v as vb (nb, BLOCK))."""
    i, j = (jnp.asarray(a, jnp.int32)[index] for a in grid(vb.shape[0]))
    rows = jnp.einsum("tuv,tv->tu", blocks, vb[j])
    cols = jnp.einsum("tuv,tu->tv", blocks, vb[i]) * (i != j).astype(blocks.dtype)[:, None]
    return out.at[i].add(rows).at[j].add(cols)
