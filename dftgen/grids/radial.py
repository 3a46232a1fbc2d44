"""Treutler-Ahlrichs radial quadrature (O. Treutler & R. Ahlrichs, J. Chem. Phys. 102, 346, 1995).

Their M4 mapping takes Chebyshev nodes x_i = cos(i pi / (n + 1)), i = 1..n (the second kind
rule, whose weights pi / (n + 1) sin^2 theta_i integrate g(x) sqrt(1 - x^2) on [-1, 1]), to
radii

    r(x) = xi / ln 2 * (1 + x)^0.6 * ln(2 / (1 - x)),

with an element-specific scale xi (Table 1 of the paper). With dx = sin(theta) dtheta,

    int_0^inf f(r) r^2 dr  ~  sum_i  pi / (n + 1) * sin(theta_i) * r'(x_i) * r_i^2 f(r_i).
"""

from __future__ import annotations

import numpy as np

# Treutler & Ahlrichs' radial scale factors xi for H..Kr (their Table 1), index Z - 1.
TREUTLER_XI = (
    0.8, 0.9,
    1.8, 1.4, 1.3, 1.1, 0.9, 0.9, 0.9, 0.9,
    1.4, 1.3, 1.3, 1.2, 1.1, 1.0, 1.0, 1.0,
    1.5, 1.4,
    1.3, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.1, 1.1, 1.1,
    1.1, 1.0, 0.9, 0.9, 0.9, 0.9,
)


def treutler_ahlrichs(n: int, z: int) -> tuple[np.ndarray, np.ndarray]:
    """Radial nodes and weights of the Treutler-Ahlrichs M4 rule for element z.

    Returns:
        r: (n,) radii in Bohr, ascending.
        w: (n,) weights for int f(r) r^2 dr, i.e. pi/(n+1) sin(theta) dr/dx (without r^2).
    """
    scale = TREUTLER_XI[z - 1] / np.log(2.0)
    theta = np.arange(n, 0, -1) * (np.pi / (n + 1))  # descending theta: ascending r
    x = np.cos(theta)
    log_term = np.log((1.0 - x) / 2.0)
    r = -scale * (1.0 + x) ** 0.6 * log_term
    dr_dx = scale * (1.0 + x) ** 0.6 * (-0.6 / (1.0 + x) * log_term + 1.0 / (1.0 - x))
    w = np.pi / (n + 1) * np.sin(theta) * dr_dx
    return r, w
