"""Becke's fuzzy-cell partitioning of space into atomic cells (A. D. Becke, J. Chem. Phys. 88,
2547, 1988), with Treutler & Ahlrichs' atomic-size adjustment (J. Chem. Phys. 102, 346, 1995).

For atoms i, j at distance R_ij and a point at distances r_i, r_j, the elliptic coordinate
mu_ij = (r_i - r_j) / R_ij is shifted to nu_ij = mu_ij + a_ij (1 - mu_ij^2) so that the cell
boundary moves towards the smaller atom; the step s(nu) = (1 - f(f(f(nu)))) / 2 with
f(x) = 3x/2 - x^3/2 then gives the cell function P_i = prod_{j != i} s(nu_ij), and the
weight of atom A's grid point is w * P_A / sum_i P_i.

a_ij = (1/chi - chi) / 4 with chi = sqrt(R_i / R_j) from Bragg-Slater radii (Treutler uses the
square root of Becke's radius ratio), clipped to [-1/2, 1/2] so nu stays monotonic in mu.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.precision import enable_x64

_CHUNK_ELEMENTS = 1 << 23  # elements of one (natm, natm, chunk) temporary


def size_adjustment(radii: np.ndarray) -> np.ndarray:
    """(natm, natm) antisymmetric a_ij from atomic radii (natm,), any length unit."""
    chi = np.sqrt(radii[:, None] / radii[None, :])
    return np.clip(0.25 * (1.0 / chi - chi), -0.5, 0.5)


@executables.jit
def cell_functions(points, atoms, adjustment):
    """Unnormalised Becke cell functions P_i at points (one fused XLA loop over the atom pairs
    and points, faster than the same in numpy).

    Args:
        points: (npts, 3) in Bohr.
        atoms: (natm, 3) nuclear positions in Bohr.
        adjustment: (natm, natm) a_ij from `size_adjustment`.

    Returns:
        (natm, npts) P_i(points).
    """
    r = jnp.sqrt(jnp.sum((points[None, :, :] - atoms[:, None, :]) ** 2, axis=-1))
    self_pair = np.eye(atoms.shape[0], dtype=bool)
    distance = jnp.sqrt(jnp.sum((atoms[:, None, :] - atoms[None, :, :]) ** 2, axis=-1))
    inverse = 1.0 / jnp.where(self_pair, 1.0, distance)  # the diagonal's mu is 0 anyway
    mu = (r[:, None, :] - r[None, :, :]) * inverse[:, :, None]  # (natm, natm, npts)
    g = mu + adjustment[:, :, None] * (1.0 - mu * mu)
    for _ in range(3):
        g = g * (1.5 - 0.5 * g * g)
    # s(nu_ij) for j != i; the diagonal (mu = 0, a_ii = 0) gives s = 1/2, replaced by 1
    step = jnp.where(self_pair[:, :, None], 1.0, 0.5 - 0.5 * g)
    return jnp.prod(step, axis=1)


def partition_weights(points: np.ndarray, owners: np.ndarray, atoms: np.ndarray,
                      adjustment: np.ndarray) -> np.ndarray:
    """(npts,) Becke weights P_owner / sum_i P_i, each point belonging to atom owners[g].

    Works through the points in chunks so the (natm, natm, chunk) temporaries stay small.
    """
    enable_x64()  # the weights are float64 whatever the SCF's precision
    chunk = max(1, _CHUNK_ELEMENTS // len(atoms) ** 2)
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        stop = start + chunk
        cells = np.asarray(cell_functions(np.asarray(points[start:stop], np.float64),
                                          np.asarray(atoms, np.float64),
                                          np.asarray(adjustment, np.float64)))
        own = cells[owners[start:stop], np.arange(len(cells[0]))]
        out[start:stop] = own / cells.sum(axis=0)
    return out
