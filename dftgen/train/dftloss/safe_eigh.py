"""A symmetric eigensolver whose derivative survives (near-)degenerate eigenvalues.

The textbook derivative of A V = V diag(e) is

    de_i = (V^T dA V)_ii,    dV = V (F o (V^T dA V)),    F_ij = 1 / (e_j - e_i) for i != j,

which is infinite where two eigenvalues meet: methane's triply degenerate HOMO, or any
symmetric molecule's p-like levels. A density built from occupied orbitals does not depend
on rotations inside a degenerate occupied (or virtual) subspace, so the infinities cancel in
exact arithmetic but not in floating point, and one NaN poisons a whole training step. The
guard replaces 1/(e_j - e_i) by the Lorentzian-broadened

    F_ij = (e_j - e_i) / ((e_j - e_i)^2 + eta),

exact to relative order eta / (e_j - e_i)^2 for well separated levels and zero (instead of
infinite) for degenerate ones. eta is in Hartree^2: 1e-10 leaves gaps above ~1e-4 Ha exact
to 1e-2 relative and larger ones exact to far better.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def safe_eigh(a, broadening: float = 1e-10):
    """Eigenvalues (n,) ascending and eigenvectors (n, n) of the symmetric matrix a (n, n),
    with the broadened derivative above (`broadening` = eta, Hartree^2, a Python float)."""
    return jnp.linalg.eigh(a)


@safe_eigh.defjvp
def _safe_eigh_jvp(broadening, primals, tangents):
    (a,), (da,) = primals, tangents
    e, v = safe_eigh(a, broadening)
    da = 0.5 * (da + da.T)  # eigh reads only the symmetric part of its input
    da_v = v.T @ da @ v
    gap = e[None, :] - e[:, None]  # [i, j] = e_j - e_i; zero on the diagonal, so F_ii = 0
    f = gap / (gap * gap + broadening)
    return (e, v), (jnp.diagonal(da_v), v @ (f * da_v))
