"""The Boys function F_n(T) = int_0^1 u^(2n) exp(-T u^2) du, the radial kernel of every
Coulomb integral over Gaussians.

Evaluated without tables, so that it vectorises and differentiates like any other jnp code:

  * T below a switch point T0 (`switch_point`): the series
        F_n(T) = exp(-T) sum_k (2T)^k / ((2n+1)(2n+3)...(2n+2k+1)),
    summed in Horner form for n = n_max only, then the downward recursion
        F_n = (2T F_(n+1) + exp(-T)) / (2n+1),
    which is stable (every term is positive);
  * T at or above T0: F_0 = sqrt(pi/T) erf(sqrt(T)) / 2 and the upward recursion
        F_(n+1) = ((2n+1) F_n - exp(-T)) / (2T),
    whose step n cancels about a factor (2n+3)/(2T) of precision for small T (the two
    terms nearly agree there) and none once T exceeds n + 1.5.

T0 and the number of series terms are fixed per n_max and precision. The series costs most
(21 terms for F_0 in float64 summed to T0 = 1.5), so in float64 T0 is as small as the upward
recursion allows: the product of its per-step losses stays within GROWTH_FLOAT64, and F_0
alone needs no recursion at all (T0 = 0.05, 9 terms). In float32, whose recursions have no
ulps to spare, T0 = n_max + 1.5. The derivative dF_n/dT = -F_(n+1) is supplied
as a custom JVP rule, so gradients never see the branch that was not taken.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np


GROWTH_FLOAT64 = 8.0  # the upward recursion may lose at most this factor (3 bits) in float64
T0_MIN = 0.05


@functools.lru_cache(maxsize=None)
def switch_point(n_max: int, dtype_name: str = "float32") -> float:
    """T0: series below, erf and upward recursion at and above (see the module docstring)."""
    conservative = n_max + 1.5
    if dtype_name != "float64":
        return conservative

    def growth(t0):
        return math.prod(max(1.0, (2 * n + 3) / (2 * t0)) for n in range(n_max))

    t0 = T0_MIN
    while growth(t0) > GROWTH_FLOAT64 and t0 < conservative:
        t0 *= 1.05
    return min(t0, conservative)


@functools.lru_cache(maxsize=None)
def series_length(n_max: int, dtype_name: str) -> int:
    """Number of series terms that converge F_(n_max)(T) to machine precision for T <= T0."""
    t0 = switch_point(n_max, dtype_name)
    tol = np.finfo(dtype_name).eps / 4
    term, total, k = 1.0 / (2 * n_max + 1), 1.0 / (2 * n_max + 1), 0
    while term > tol * total:
        k += 1
        term *= 2 * t0 / (2 * n_max + 2 * k + 1)
        total += term
    return k


def boys(n_max: int, t: jax.Array) -> jax.Array:
    """F_n(t) for n = 0, ..., n_max.

    Args:
        n_max: highest order (static).
        t: T >= 0, any shape, float32 or float64.

    Returns:
        Array of shape t.shape + (n_max + 1,), same dtype as t.
    """
    return jnp.stack(boys_orders(n_max, t), axis=-1)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def boys_orders(n_max: int, t: jax.Array) -> tuple[jax.Array, ...]:
    """(F_0(t), ..., F_n_max(t)) as separate arrays of t's shape.

    The expensive parts (the series for F_n_max, erf for F_0, exp(-T)) are materialised and
    each order follows from them by a few multiply-adds of the recursions: a consumer that
    XLA fuses with an order then re-runs only those, not the series (fused into a stacked
    output, it would re-run everything once per order).
    """
    t = jnp.asarray(t)
    t0 = switch_point(n_max, t.dtype.name)
    small = t < t0

    # series branch, evaluated at min(T, T0) so the unused lanes stay finite
    ts = jnp.where(small, t, 0.0)
    s = jnp.ones_like(ts)
    for k in range(series_length(n_max, t.dtype.name), 0, -1):
        s = 1.0 + s * (2.0 * ts) * (1.0 / (2 * n_max + 2 * k + 1))

    # erf branch, evaluated at max(T, T0); rsqrt (within an ulp) instead of sqrt and a
    # division, which cost twice as much
    tl = jnp.where(small, t0, t)
    inv_root_t = jax.lax.rsqrt(tl)
    # 1 - erfc: XLA's erf is only good to about 4 ulp in float32 (where sqrt(T) > 1.2 here,
    # erfc < 0.09 and its relative error shrinks) and slower than erfc in float64 (where
    # 1 - erfc loses at most a factor 1/erf(sqrt(T0_MIN)) = 4)
    f0 = (0.5 * math.sqrt(math.pi)) * (1.0 - jax.lax.erfc(tl * inv_root_t)) * inv_root_t
    exp_t = jnp.exp(-t)
    # where small, exp(-ts) is exp_t; elsewhere the series' value is not used
    top, f0, exp_t = jax.lax.optimization_barrier((exp_t * s / (2 * n_max + 1), f0, exp_t))

    down = [top]  # exact where small: ts = t, and exp(-ts) = exp_t there
    for n in range(n_max - 1, -1, -1):
        down.append((2.0 * ts * down[-1] + exp_t) / (2 * n + 1))
    down = down[::-1]
    up = [f0]
    exp_tl = jnp.where(small, math.exp(-t0), exp_t)
    for n in range(n_max):
        # divide rather than multiply by a rounded 1/(2T): that rounding would compound
        up.append(((2 * n + 1) * up[-1] - exp_tl) / (2.0 * tl))
    return tuple(jnp.where(small, d, u) for d, u in zip(down, up))


@boys_orders.defjvp
def _boys_jvp(n_max, primals, tangents):
    (t,), (dt,) = primals, tangents
    f = boys_orders(n_max + 1, t)
    dt = jnp.asarray(dt)
    return f[:-1], tuple(-x * dt for x in f[1:])
