"""Range-separated B97-type functionals (Chai and Head-Gordon): the semi-local part of wB97,
wB97X and wB97X-V for a closed-shell density.

With rho_s = rho/2 and sigma_ss = sigma/4 the density and squared gradient of each spin, and
s^2 = sigma_ss / rho_s^(8/3), u(gamma) = gamma s^2 / (1 + gamma s^2), g(c, u) = sum_i c_i u^i:

  exchange     2 e_x(rho_s) F(a) g(c_x, u(0.004)),  e_x the spin-polarised Slater exchange and
               F(a), a = omega / (2 k_F), k_F = (6 pi^2 rho_s)^(1/3), the erf attenuation that
               keeps its short-range part (`dftgen.xc.attenuated`; the long range is exact
               exchange, added by the SCF);
  same-spin    2 rho_s eps_c(rho_s, zeta = 1) g(c_ss, u(0.2));
  opposite     [rho eps_c(rho, 0) - 2 rho_s eps_c(rho_s, 1)] g(c_os, u(0.006)),

eps_c the Perdew-Wang 1992 correlation per particle (its original parameters, as libxc's B97
family takes them). Energies
per volume in Hartree/Bohr^3; the coefficients and omega are libxc's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp

from dftgen.xc import lda
from dftgen.xc.attenuated import attenuation

GAMMA_X, GAMMA_SS, GAMMA_OS = 0.004, 0.2, 0.006
# -(3/4)(6/pi)^(1/3): Slater exchange per volume of one spin is this times rho_s^(4/3)
SPIN_SLATER_COEFF = -0.75 * (6.0 / math.pi) ** (1.0 / 3.0)
# Perdew-Wang's original paramagnetic (zeta = 0) and ferromagnetic (zeta = 1) fits
PW92_PARA = lda.PW92Params(0.031091, 0.21370, (7.5957, 3.5876, 1.6382, 0.49294))
PW92_FERRO = lda.PW92Params(0.015545, 0.20548, (14.1189, 6.1977, 3.3662, 0.62517))


class B97Params(NamedTuple):
    """The power-series coefficients of the three enhancement factors, and omega (Bohr^-1)."""

    c_x: tuple[float, ...]
    c_ss: tuple[float, ...]
    c_os: tuple[float, ...]
    omega: float


WB97 = B97Params((1.0, 1.13116, -2.74915, 12.09, -5.71642),
                 (1.0, -2.55352, 11.8926, -26.9452, 17.0927),
                 (1.0, 3.99051, -17.0066, 1.07292, 8.88211), 0.4)
WB97X = B97Params((0.842294, 0.726479, 1.0476, -5.70635, 13.2794),
                  (1.0, -4.33879, 18.2308, -31.743, 17.2901),
                  (1.0, 2.37031, -11.3995, 6.58405, -3.78132), 0.3)
WB97X_V = B97Params((0.833, 0.603, 1.194), (0.556, -0.257), (1.219, -1.85), 0.3)


def _enhancement(coefficients: tuple[float, ...], gamma: float, s2):
    """g = sum_i c_i u^i, u = gamma s^2 / (1 + gamma s^2), by Horner's rule (differentiable at
    u = 0, where u^0's derivative is not)."""
    u = gamma * s2 / (1.0 + gamma * s2)
    g = jnp.zeros_like(u)
    for c in reversed(coefficients):
        g = g * u + c
    return g


def b97_semilocal(params: B97Params, rho, sigma):
    """Exchange (short range) plus correlation energy per volume for total rho and sigma."""
    rho_s = 0.5 * rho
    rho_s_13 = jnp.cbrt(rho_s)
    # (sigma/4) / rho_s^(8/3) through 1/cbrt(rho): dividing by rho^(8/3) under- and
    # overflows float32 in its first and second derivatives at small rho
    rho_m13 = 1.0 / jnp.cbrt(rho)
    s2 = 2.0 ** (2.0 / 3.0) * sigma * rho_m13**8
    k_f = jnp.cbrt(6.0 * math.pi**2 * rho_s)
    short_range = attenuation(params.omega / (2.0 * k_f))
    exchange = (2.0 * SPIN_SLATER_COEFF * rho_s * rho_s_13 * short_range
                * _enhancement(params.c_x, GAMMA_X, s2))
    same = 2.0 * rho_s * lda.pw92_eps(rho_s, PW92_FERRO)
    opposite = rho * lda.pw92_eps(rho, PW92_PARA) - same
    return (exchange + same * _enhancement(params.c_ss, GAMMA_SS, s2)
            + opposite * _enhancement(params.c_os, GAMMA_OS, s2))


def wb97(rho, sigma):
    return b97_semilocal(WB97, rho, sigma)


def wb97x(rho, sigma):
    return b97_semilocal(WB97X, rho, sigma)


def wb97x_v(rho, sigma):
    """wB97X-V's semi-local part (without its VV10 non-local correlation), as PySCF's
    "wb97x-d3bj" takes it."""
    return b97_semilocal(WB97X_V, rho, sigma)
