"""The Boys function against scipy's incomplete gamma function:
F_n(T) = Gamma(n + 1/2) P(n + 1/2, T) / (2 T^(n + 1/2)), and a long-double series for T < 1
(where T^(n + 1/2) underflows or P loses digits)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gamma, gammainc

from dftgen.integrals.boys import boys
from dftgen.precision import dtype

N_MAX = 13  # (ff|ff) needs n <= 12, and its derivative one more


def reference(n: int, t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(all="ignore"):
        closed = gamma(n + 0.5) * gammainc(n + 0.5, t) / (2 * t ** (n + 0.5))
    tl = t.astype(np.longdouble)
    term = np.full_like(tl, 1.0 / (2 * n + 1))
    series = term.copy()
    for k in range(1, 80):
        term = term * 2 * tl / (2 * n + 2 * k + 1)
        series += term
    return np.where(t < 1.0, (np.exp(-tl) * series).astype(np.float64), closed)


T_GRID = np.concatenate([[0.0, 1e-300, 1e-12], np.logspace(-9, 4, 3000), np.linspace(0, 60, 3001)])


@pytest.fixture(scope="module")
def reference_values():
    return {prec: np.stack([reference(n, t) for n in range(N_MAX + 1)], axis=-1)
            for prec, t in [("float64", T_GRID), ("float32", T_GRID.astype(np.float32).astype(np.float64))]}


@pytest.mark.parametrize("n_max", [0, 4, N_MAX])
def test_float64_relative_error_below_1e_14(n_max, reference_values):
    got = np.asarray(jax.jit(lambda t: boys(n_max, t))(jnp.asarray(T_GRID, dtype("float64"))))
    ref = reference_values["float64"][:, : n_max + 1]
    assert got.shape == (T_GRID.size, n_max + 1)
    assert np.max(np.abs(got / ref - 1)) < 1e-14


@pytest.mark.parametrize("n_max, tol", [(0, 2e-7), (4, 4e-7), (N_MAX, 8e-7)])
def test_float32_relative_error(n_max, tol, reference_values):
    """float32 reaches 2-3 ulp for low orders; the recursions cost up to ~10 ulp at n = 13."""
    t32 = jnp.asarray(T_GRID, jnp.float32)
    got = np.asarray(jax.jit(lambda t: boys(n_max, t))(t32), dtype=np.float64)
    ref = reference_values["float32"][:, : n_max + 1]
    assert np.all(np.isfinite(got))
    normal = ref > 1e-30  # below, float32 underflows into subnormals and zero
    assert np.max(np.abs(got[normal] / ref[normal] - 1)) < tol
    assert np.all(np.abs(got[~normal] - ref[~normal]) < 1e-30)


def test_value_at_zero_is_one_over_2n_plus_1():
    got = np.asarray(boys(N_MAX, jnp.zeros((), dtype("float64"))))
    np.testing.assert_allclose(got, 1.0 / (2 * np.arange(N_MAX + 1) + 1), rtol=1e-15)


def test_derivative_is_minus_next_order():
    t = jnp.asarray([0.0, 0.3, 2.0, 7.9, 8.1, 35.0], dtype("float64"))
    grad = jax.vmap(jax.jacfwd(lambda x: boys(6, x)))(t)
    np.testing.assert_allclose(grad, -np.asarray(boys(7, t))[:, 1:], rtol=1e-14)
    # and against central differences, through jax.grad (reverse mode)
    h = 1e-5
    fd = (np.asarray(boys(6, t + h)) - np.asarray(boys(6, t - h))) / (2 * h)
    rev = jax.vmap(jax.grad(lambda x: boys(6, x).sum()))(t)
    np.testing.assert_allclose(rev, fd.sum(-1), rtol=1e-8)
