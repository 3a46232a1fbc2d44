"""Local-density functionals for a closed-shell (spin-unpolarised) density.

Each function maps the density rho (electrons/Bohr^3, strictly positive: the caller removes
the low-density points, see `dftgen.xc.functionals`) to the energy density per volume
e(rho) = rho * eps(rho) in Hartree/Bohr^3. Parameters are those of libxc, so results agree
with it to rounding.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp

# -(3/4)(3/pi)^(1/3): the exchange energy per particle of the uniform gas is this times rho^(1/3)
SLATER_COEFF = -0.75 * (3.0 / math.pi) ** (1.0 / 3.0)


def wigner_seitz_radius(rho):
    """r_s = (3 / (4 pi rho))^(1/3), the radius of a sphere holding one electron (Bohr)."""
    return jnp.cbrt(3.0 / (4.0 * math.pi * rho))


def slater(rho):
    """Dirac-Slater exchange of the uniform electron gas (libxc LDA_X)."""
    return SLATER_COEFF * rho * jnp.cbrt(rho)


class VWNParams(NamedTuple):
    """Paramagnetic fit of Vosko, Wilk and Nusair (Can. J. Phys. 58, 1200 (1980)).

    A is in Hartree (half of VWN's Rydberg value); x0, b, c as in their eq. 4.4.
    """

    A: float
    x0: float
    b: float
    c: float


VWN5_PARAMS = VWNParams(A=0.0310907, x0=-0.10498, b=3.72744, c=12.9352)  # fit to Ceperley-Alder
VWN_RPA_PARAMS = VWNParams(A=0.0310907, x0=-0.409286, b=13.0720, c=42.7198)  # fit to RPA


def vwn_eps(rho, p: VWNParams):
    """VWN correlation energy per particle, in terms of x = sqrt(r_s)."""
    x = jnp.sqrt(wigner_seitz_radius(rho))
    X = x * x + p.b * x + p.c
    X0 = p.x0 * p.x0 + p.b * p.x0 + p.c
    Q = math.sqrt(4.0 * p.c - p.b * p.b)
    arctan = jnp.arctan(Q / (2.0 * x + p.b))
    return p.A * (
        jnp.log(x * x / X)
        + 2.0 * p.b / Q * arctan
        - p.b * p.x0 / X0 * (jnp.log((x - p.x0) ** 2 / X) + 2.0 * (p.b + 2.0 * p.x0) / Q * arctan)
    )


def vwn5(rho):
    """VWN5 correlation (libxc LDA_C_VWN): the fit to Ceperley-Alder's Monte Carlo data."""
    return rho * vwn_eps(rho, VWN5_PARAMS)


def vwn_rpa(rho):
    """VWN-RPA correlation (libxc LDA_C_VWN_RPA, "VWN3"-like): the fit to the RPA energies.

    This is the correlation in B3LYP as PySCF >= 2.3, Gaussian and ORCA define it.
    """
    return rho * vwn_eps(rho, VWN_RPA_PARAMS)


class PW92Params(NamedTuple):
    """One Perdew-Wang 1992 fit (Phys. Rev. B 45, 13244, eq. 10): A in Hartree, alpha1, and
    beta1..beta4."""

    A: float
    alpha1: float
    beta: tuple[float, float, float, float]


# the paramagnetic fit with libxc's "modified" A (more digits; LDA_C_PW_MOD), which is what
# libxc's PBE correlation is built on
PW92_MOD = PW92Params(0.0310907, 0.21370, (7.5957, 3.5876, 1.6382, 0.49294))


def pw92_eps(rho, p: PW92Params = PW92_MOD):
    """Perdew-Wang 1992 correlation energy per particle of the fit p."""
    rs = wigner_seitz_radius(rho)
    sqrt_rs = jnp.sqrt(rs)
    b1, b2, b3, b4 = p.beta
    denominator = 2.0 * p.A * sqrt_rs * (b1 + sqrt_rs * (b2 + sqrt_rs * (b3 + b4 * sqrt_rs)))
    return -2.0 * p.A * (1.0 + p.alpha1 * rs) * jnp.log1p(1.0 / denominator)
