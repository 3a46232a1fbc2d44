"""Short-range exchange by erf attenuation, for a closed-shell density.

The exchange hole of a uniform gas with Fermi wavevector k, seen through the short-range
interaction erfc(omega r)/r instead of 1/r, keeps the fraction A(a), a = omega / (2 k), of its
energy (Savin; Iikura, Tsuneda, Yanai, Hirao, J. Chem. Phys. 115, 3540 (2001), eq. 10):

    A(a) = 1 - (8/3) a [sqrt(pi) erf(1/(2a)) + (2a - 4a^3) exp(-1/(4a^2)) - 3a + 4a^3].

Iikura et al. ("ITYH") attenuate a GGA exchange per spin channel with the wavevector of the
GGA: e_s = -X_FACTOR_C rho_s^(4/3) F(x_s) A(a_s), k_s = sqrt(9 pi / (2 X_FACTOR_C F(x_s)))
rho_s^(1/3), which reduces to the spin Fermi wavevector (6 pi^2 rho_s)^(1/3) where F = 1.
CAM-B3LYP takes it with B88's F (libxc's GGA_X_ITYH) at omega = 0.33 Bohr^-1.
Energies per volume in Hartree/Bohr^3.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax

from dftgen.xc import gga


def _series_coefficient(n: int) -> float:
    """The coefficient of a^(-2n) in A(a) = sum_{n >= 1} c_n a^(-2n), from the Taylor series of
    erf and exp in 1/a: c_n = (-1)^(n+1) 2 / (4^n n! (2n + 1)(n + 1)(n + 2)); c_1 = 1/36."""
    return (-1) ** (n + 1) * 2.0 / (4**n * math.factorial(n) * (2 * n + 1) * (n + 1) * (n + 2))


ATTENUATION_SERIES = tuple(_series_coefficient(n) for n in range(1, 13))  # a^-2 .. a^-24
# Where the series takes over from the closed form, whose terms cancel to A ~ 1/(36 a^2) more
# and more as a grows; there both branches are within a few roundings of A (measured against
# 60-digit mpmath: float64 6e-15, float32 1.5e-6, relative)
SERIES_FROM = {jnp.dtype(jnp.float64): 0.75, jnp.dtype(jnp.float32): 0.3}
CAM_B3LYP_OMEGA = 0.33  # Bohr^-1


def attenuation(a):
    """A(a) (module docstring), elementwise for a > 0: the closed form below SERIES_FROM, the
    series in 1/a^2 from it on. Each branch sees a harmless argument where it is not used, so
    neither puts inf or NaN into the gradient."""
    series_from = SERIES_FROM[a.dtype]
    closed = a < series_from
    a_closed = jnp.where(closed, a, 1.0)
    closed_form = 1.0 - (8.0 / 3.0) * a_closed * (
        math.sqrt(math.pi) * lax.erf(0.5 / a_closed)
        + (2.0 * a_closed - 4.0 * a_closed**3) * jnp.exp(-0.25 / a_closed**2)
        - 3.0 * a_closed + 4.0 * a_closed**3)
    inverse_a2 = 1.0 / jnp.where(closed, series_from, a) ** 2
    series = jnp.zeros_like(inverse_a2)
    for c in reversed(ATTENUATION_SERIES):
        series = (series + c) * inverse_a2
    return jnp.where(closed, closed_form, series)


def ityh_b88(omega: float, rho, sigma):
    """Short-range B88 exchange of Iikura et al. (module docstring) per volume, for total rho
    and sigma = |grad rho|^2 of shape (npts,); omega in Bohr^-1."""
    rho_m13 = 1.0 / jnp.cbrt(rho)
    enhancement = gga.b88_enhancement(rho_m13, sigma)  # X_FACTOR_C F(x_s)
    # a = omega / (2 k_s) = omega sqrt(X_FACTOR_C F / (18 pi)) rho_s^(-1/3), rho_s = rho/2
    a = omega * jnp.sqrt(enhancement / (18.0 * math.pi)) * 2.0 ** (1.0 / 3.0) * rho_m13
    return gga.spin_summed_exchange(rho, rho_m13, enhancement) * attenuation(a)


def cam_b3lyp_short_range_b88(rho, sigma):
    """ITYH-B88 at CAM-B3LYP's omega, the short-range share of its B88 exchange."""
    return ityh_b88(CAM_B3LYP_OMEGA, rho, sigma)
