"""Coulomb and exchange matrices from ERIs: what the SCF needs every iteration.

    J_ij = sum_kl (ij|kl) D_kl,    K_il = sum_jk (ij|kl) D_jk.

Pure jnp functions, traceable inside a jitted SCF loop. From the s8-packed vector the dense
tensor is gathered first (nao^4 values: 90 MB at nao = 69 in float32); a loop that calls jk
many times with the same integrals can `unpack` once and pass the dense array instead.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from dftgen.integrals.eri import unpack


def jk(eri: jnp.ndarray, dm: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(J, K) for one density matrix (nao, nao) or several (n, nao, nao).

    Args:
        eri: s8-packed ERI vector, or the dense (nao, nao, nao, nao) array.
        dm: density matrix or matrices; any (not only symmetric) matrices work.

    Returns:
        J, K with the shape of dm.
    """
    nao = dm.shape[-1]
    dense = eri if eri.ndim == 4 else unpack(eri, nao)
    if dense.shape != (nao,) * 4:
        raise ValueError(f"ERIs of shape {tuple(eri.shape)} do not match a density matrix of "
                         f"{nao} orbitals (packed: {math.comb(math.comb(nao + 1, 2) + 1, 2)} values)")
    j = jnp.einsum("ijkl,...kl->...ij", dense, dm)
    k = jnp.einsum("ijkl,...jk->...il", dense, dm)
    return j, k
