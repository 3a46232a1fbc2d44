"""Generalised-gradient functionals for a closed-shell (spin-unpolarised) density.

Each function maps the density rho (electrons/Bohr^3, strictly positive) and
sigma = |grad rho|^2 (non-negative) to the energy density per volume e(rho, sigma) in
Hartree/Bohr^3. Parameters are libxc's. The caller (`dftgen.xc.functionals`) removes
low-density points and bounds sigma; these formulas add two things for float32 safety:
negative powers of rho are built as powers of rho^(-1/3) (a number of moderate size whose
derivatives stay representable, where squaring a tiny rho^(4/3) would underflow), and no
sqrt(sigma) is differentiated where sigma may vanish.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from dftgen.xc.lda import SLATER_COEFF, pw92_eps

# Exchange of one spin channel of the uniform gas is -X_FACTOR_C * rho_s^(4/3)
X_FACTOR_C = 0.375 * (3.0 / math.pi) ** (1.0 / 3.0) * 4.0 ** (2.0 / 3.0)

B88_BETA = 0.0042
B88_GAMMA = 6.0


def _x_arcsinh_x(x2):
    """x * arcsinh(x) as a function of x^2, smooth at x = 0 (where it is x^2 - x^4/6 + ...).

    Below x^2 = eps the leading term is exact to rounding; elsewhere sqrt is safe to
    differentiate. The double `where` keeps the unused branch's gradient finite.
    """
    small = x2 < jnp.finfo(x2.dtype).eps
    x = jnp.sqrt(jnp.where(small, 1.0, x2))
    return jnp.where(small, x2, x * jnp.arcsinh(x))


def b88(rho, sigma):
    """Becke 1988 exchange (Phys. Rev. A 38, 3098), libxc GGA_X_B88.

    Per spin channel e_s = -rho_s^(4/3) (X_FACTOR_C + beta x^2 / (1 + gamma beta x asinh x))
    with x = |grad rho_s| / rho_s^(4/3); closed shell: rho_s = rho/2, |grad rho_s|^2 = sigma/4.
    """
    rho_m13 = 1.0 / jnp.cbrt(rho)
    return spin_summed_exchange(rho, rho_m13, b88_enhancement(rho_m13, sigma))


def b88_enhancement(rho_m13, sigma):
    """The bracket of `b88`, X_FACTOR_C F(x), from rho^(-1/3) and sigma of the total density."""
    x2 = 2.0 ** (2.0 / 3.0) * sigma * rho_m13**8  # = (sigma/4) / (rho/2)^(8/3)
    return X_FACTOR_C + B88_BETA * x2 / (1.0 + B88_GAMMA * B88_BETA * _x_arcsinh_x(x2))


def spin_summed_exchange(rho, rho_m13, enhancement):
    """Exchange of both spin channels, each -rho_s^(4/3) * enhancement with rho_s = rho/2."""
    return -(2.0 ** (-1.0 / 3.0)) * rho / rho_m13 * enhancement  # 2 (rho/2)^(4/3)


PBE_KAPPA = 0.8040
PBE_MU = 0.2195149727645171  # libxc's MU_PBE: beta * pi^2 / 3 with PBE's beta
PBE_BETA = 0.06672455060314922
PBE_GAMMA = (1.0 - math.log(2.0)) / math.pi**2
# s^2 = sigma / (4 (3 pi^2)^(2/3) rho^(8/3)), the reduced gradient of PBE exchange
_S2_COEFF = 1.0 / (4.0 * (3.0 * math.pi**2) ** (2.0 / 3.0))
# t^2 = sigma / (2 k_s rho)^2 with k_s^2 = 4 k_F / pi, k_F = (3 pi^2 rho)^(1/3)
_T2_COEFF = math.pi / (16.0 * (3.0 * math.pi**2) ** (1.0 / 3.0))


def pbe_x(rho, sigma):
    """PBE exchange (Perdew, Burke, Ernzerhof, PRL 77, 3865), libxc GGA_X_PBE.

    e = e_LDA(rho) F(s),  F(s) = 1 + kappa - kappa / (1 + mu s^2 / kappa).
    """
    rho_m13 = 1.0 / jnp.cbrt(rho)
    s2 = _S2_COEFF * sigma * rho_m13**8
    enhancement = 1.0 + PBE_KAPPA - PBE_KAPPA / (1.0 + PBE_MU / PBE_KAPPA * s2)
    return SLATER_COEFF * rho / rho_m13 * enhancement


def pbe_c(rho, sigma):
    """PBE correlation, libxc GGA_C_PBE: rho (eps_PW92(r_s) + H(r_s, t)) with phi = 1.

    H = gamma ln(1 + (beta/gamma) t^2 (1 + A t^2) / (1 + A t^2 + A^2 t^4)),
    A = (beta/gamma) / (exp(-eps/gamma) - 1). Written with y = A t^2 as
    H = gamma ln(1 + (exp(-eps/gamma) - 1) y (1 + y) / (1 + y (1 + y))), whose last factor
    tends to 1; y is capped where 1/y^2 is below rounding so its powers never overflow.
    """
    eps = pw92_eps(rho)
    t2 = _T2_COEFF * sigma * (1.0 / jnp.cbrt(rho)) ** 7
    growth = jnp.expm1(-eps / PBE_GAMMA)  # = (beta/gamma) / A, positive since eps < 0
    y_max = float(jnp.finfo(t2.dtype).max) ** 0.125  # (1 + y + y^2)^4 stays finite
    y = jnp.minimum(PBE_BETA / PBE_GAMMA / growth * t2, y_max)
    y1 = y * (1.0 + y)
    # y1 / (1 + y1), in the form whose value and autodiff derivative are both free of cancellation
    saturation = jnp.where(y1 < 1.0, y1 / (1.0 + y1), 1.0 - 1.0 / (1.0 + y1))
    H = PBE_GAMMA * jnp.log1p(growth * saturation)
    return rho * (eps + H)


LYP_A = 0.04918
LYP_B = 0.132
LYP_C = 0.2533
LYP_D = 0.349
_CF = 0.3 * (3.0 * math.pi**2) ** (2.0 / 3.0)  # Thomas-Fermi constant


def lyp(rho, sigma):
    """Lee-Yang-Parr correlation in Miehlich et al.'s gradient-only form (Chem. Phys. Lett.
    157, 200 (1989), eq. 2), libxc GGA_C_LYP, reduced to rho_a = rho_b = rho/2:

    e = -a / (1 + d rho^(-1/3)) [rho + b exp(-c rho^(-1/3)) (C_F rho - (3 + 7 delta) sigma rho^(-5/3) / 72)]
    with delta = c rho^(-1/3) + d rho^(-1/3) / (1 + d rho^(-1/3)).
    """
    rho_m13 = 1.0 / jnp.cbrt(rho)
    denominator = 1.0 + LYP_D * rho_m13
    delta = LYP_C * rho_m13 + LYP_D * rho_m13 / denominator
    gradient_term = (3.0 + 7.0 * delta) / 72.0 * sigma * rho_m13**5
    return (
        -LYP_A
        / denominator
        * (rho + LYP_B * jnp.exp(-LYP_C * rho_m13) * (_CF * rho - gradient_term))
    )
