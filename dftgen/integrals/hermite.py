"""McMurchie-Davidson building blocks: Hermite expansion coefficients E and Hermite Coulomb
integrals R (Helgaker, Jorgensen & Olsen, Molecular Electronic-Structure Theory, ch. 9).

A product of two Cartesian Gaussians along one axis is a sum of Hermite Gaussians,
    x_A^i x_B^j exp(-a x_A^2 - b x_B^2) = sum_t E^{ij}_t Lambda_t(x; p, P),
with p = a + b and P = (a A + b B) / p. Every one-electron and two-electron integral is then
a contraction of E with either delta_t0 (overlap) or with R_{tuv}, the derivatives of the
Boys function (Coulomb integrals).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dftgen.integrals.boys import boys_orders


@functools.lru_cache(maxsize=None)
def _polynomial_table(la: int, lb: int) -> np.ndarray:
    """E^{ij}_t / E^{00}_0 as polynomials in X_PA, X_PB and 1/2p.

    Runs the recursion E^{i+1,j}_t = E^{ij}_{t-1} / 2p + X_PA E^{ij}_t + (t+1) E^{ij}_{t+1}
    (likewise for j with X_PB) on coefficient arrays, once per (la, lb), and returns M of
    shape (la+1, lb+1, g+1, la+1, lb+1, la+lb+1) with
    E^{ij}_t = E^{00}_0 sum_{abc} M[a, b, c, i, j, t] X_PA^a X_PB^b (1/2p)^c.
    """
    n_t = la + lb + 1
    g = la + lb  # E^{ij}_{i+j} = (1/2p)^{i+j}
    shape = (la + 1, lb + 1, g + 1)
    poly = {}
    unit = np.zeros(shape)
    unit[0, 0, 0] = 1.0
    poly[0, 0] = [unit] + [np.zeros(shape) for _ in range(n_t - 1)]

    def raise_power(prev, axis):
        out = []
        for t in range(n_t):
            term = np.zeros(shape)
            if t >= 1:
                term[:, :, 1:] += prev[t - 1][:, :, :-1]  # times 1/2p
            shifted = np.roll(prev[t], 1, axis=axis)  # times X_PA (axis 0) or X_PB (axis 1)
            term += shifted
            if t + 1 < n_t:
                term += (t + 1) * prev[t + 1]
            out.append(term)
        return out

    for i in range(la + 1):
        if i > 0:
            poly[i, 0] = raise_power(poly[i - 1, 0], 0)
        for j in range(1, lb + 1):
            poly[i, j] = raise_power(poly[i, j - 1], 1)
    table = np.zeros(shape + (la + 1, lb + 1, n_t))
    for (i, j), terms in poly.items():
        for t, coef in enumerate(terms):
            table[..., i, j, t] = coef
    return table


def expansion_coefficients(la: int, lb: int, a, b, xab) -> jnp.ndarray:
    """E^{ij}_t along one axis for 0 <= i <= la, 0 <= j <= lb, 0 <= t <= la + lb.

    Evaluated as one contraction of monomials X_PA^a X_PB^b (1/2p)^c with a static table
    (`_polynomial_table`): a handful of operations however large la and lb, which keeps
    compile times short.

    Args:
        la, lb: highest powers on the two centres (static).
        a, b: exponents, broadcastable arrays.
        xab: A - B along the axis (or axes), broadcastable with a and b.

    Returns:
        Array (..., la+1, lb+1, la+lb+1); E^{00}_0 = exp(-mu xab^2) with mu = ab/p, so the
        product over the three axes carries the Gaussian product prefactor K_AB; entries with
        t > i + j are zero.
    """
    p = a + b
    xpa, xpb, half_p = -b / p * xab, a / p * xab, 0.5 / p
    table = _polynomial_table(la, lb)

    def powers(x, n):
        out = [jnp.ones_like(x)]
        for _ in range(n):
            out.append(out[-1] * x)
        return jnp.stack(out, -1)

    g = table.shape[2] - 1
    mono = (powers(xpa, la)[..., :, None, None] * powers(xpb, lb)[..., None, :, None]
            * powers(jnp.broadcast_to(half_p, xpa.shape), g)[..., None, None, :])
    lead = mono.shape[:-3]
    flat = mono.reshape(lead + (-1,)) @ table.reshape(mono.shape[-3] * mono.shape[-2] * mono.shape[-1], -1).astype(mono.dtype)
    return jnp.exp(-(a * b / p) * xab * xab)[..., None, None, None] * flat.reshape(lead + table.shape[3:])


@functools.lru_cache(maxsize=None)
def hermite_tuples(L: int) -> tuple[tuple[int, int, int], ...]:
    """All (t, u, v) with t + u + v <= L, by increasing order t + u + v: the layout of the last
    axis of R and of the Hermite axis of pair coefficients."""
    return tuple((t, u, n - t - u) for n in range(L + 1) for t in range(n, -1, -1) for u in range(n - t, -1, -1))


@functools.lru_cache(maxsize=None)
def _recursion_tables(L: int, level: int):
    """Index tables for one step of the R recursion: from R^(m+1) over t+u+v <= L-level-1
    to R^(m) over t+u+v <= L-level (the (0,0,0) entry comes from the Boys function):
    R^(m)_tuv = r_axis R^(m+1)_step + factor R^(m+1)_lower, reducing along the first
    nonzero index."""
    prev = {tuv: k for k, tuv in enumerate(hermite_tuples(L - level - 1))}
    lower, factor, step, axis = [], [], [], []
    for tuv in hermite_tuples(L - level)[1:]:
        d = 0 if tuv[0] > 0 else (1 if tuv[1] > 0 else 2)
        n = tuv[d]
        step.append(prev[tuple(k - (i == d) for i, k in enumerate(tuv))])
        lower.append(prev[tuple(k - 2 * (i == d) for i, k in enumerate(tuv))] if n >= 2 else 0)
        factor.append(float(n - 1))
        axis.append(d)
    return (np.array(lower, np.int32), np.array(factor), np.array(step, np.int32),
            np.array(axis, np.int32))


def coulomb_hermite_terms(L: int, alpha, r, scale) -> jnp.ndarray:
    """Hermite Coulomb integrals R_{tuv}(alpha, r) for t + u + v <= L, times `scale`, with
    the Hermite index leading: (len(hermite_tuples(L)), ...).

    R^(m)_{000} = (-2 alpha)^m F_m(alpha |r|^2) and
    R^(m)_{t+1,u,v} = t R^(m+1)_{t-1,u,v} + x R^(m+1)_{t,u,v} (likewise for u, v);
    R = R^(0). Level by level, each level one array materialised before the next reads it
    (fused, XLA would re-run the recursion tree under every read); with the Hermite index
    leading, the recursion's gathers copy whole rows, and the program stays small for any L.

    Args:
        L: highest total order (static).
        alpha: exponent, shape (...).
        r: (3, ...) components of P - C or P - Q, broadcastable with alpha.
        scale: factor folded into the Boys values, broadcastable to alpha.
    """
    r = jnp.broadcast_to(r, (3,) + jnp.broadcast_shapes(r.shape[1:], jnp.shape(alpha)))
    f = boys_orders(L, alpha * jnp.sum(r * r, axis=0))
    minus_2a = -2.0 * alpha
    heads = [scale * f[0]]  # scale (-2 alpha)^m F_m
    power = scale
    for m in range(1, L + 1):
        power = power * minus_2a
        heads.append(power * f[m])
    heads = jax.lax.optimization_barrier(jnp.stack(heads))
    level = heads[L][None]
    for m in range(L - 1, -1, -1):
        lower, factor, step, axis = _recursion_tables(L, m)
        factor = factor.astype(level.dtype).reshape((-1,) + (1,) * (level.ndim - 1))
        rest = r[axis] * level[step] + factor * level[lower]
        level = jax.lax.optimization_barrier(jnp.concatenate([heads[m][None], rest]))
    return level


def coulomb_hermite(L: int, alpha, r, scale) -> jnp.ndarray:
    """`coulomb_hermite_terms` with r of shape (..., 3) and the Hermite index last:
    (..., len(hermite_tuples(L)))."""
    return jnp.moveaxis(coulomb_hermite_terms(L, alpha, jnp.moveaxis(r, -1, 0), scale), 0, -1)
