"""Symmetric (nao, nao) matrices as their lower triangles: the npair = nao (nao + 1) / 2
elements (i, j), i >= j, row by row (pair p = i (i + 1) / 2 + j, PySCF's order).

The exact ERIs' pair supermatrices and the fitted ERIs' B_P are held over these pairs; a
contraction sum_ij M_ij D_ij of two symmetric matrices is then sum_p M_p w_p D_p with the
weights w_p = 2 off the diagonal and 1 on it.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np


@functools.lru_cache(maxsize=None)
def pairs(nao: int):
    """(i, j) of every pair p, i >= j, each (npair,); the weights w_p (npair,); and the pair
    index of every (i, j) as a (nao, nao) array."""
    i, j = np.tril_indices(nao)
    index = np.zeros((nao, nao), dtype=np.int64)
    index[i, j] = index[j, i] = np.arange(len(i))
    return i, j, np.where(i == j, 1.0, 2.0), index


def weighted(dm: jnp.ndarray) -> jnp.ndarray:
    """w_p D_p (..., npair) of symmetric matrices (..., nao, nao)."""
    i, j, w, _ = pairs(dm.shape[-1])
    return dm[..., i, j] * w.astype(dm.dtype)


def unpack(packed: jnp.ndarray, nao: int) -> jnp.ndarray:
    """The symmetric matrices (..., nao, nao) of their lower triangles (..., npair); the
    gather index is made in the program (from iotas), not held as a constant in it."""
    i = jnp.arange(nao, dtype=jnp.int32)
    return packed[..., index(i[:, None], i[None])]


def index(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """The pair index of (a, b) in either order (integer arrays that broadcast)."""
    big, small = jnp.maximum(a, b), jnp.minimum(a, b)
    return big * (big + 1) // 2 + small

