"""The nuclear gradient of the density-fitted Coulomb and exchange energies, contracted with
the density as it is made (PySCF's DF gradients with the auxiliary functions' response).

For a density D = C C^T (C (nao, m)), the metric M = (P|Q) and T_P = (P|ij), the fitted
energy

    E = (a / 2) sum_PQ d_P M^-1_PQ d_Q - (b / 4) sum_PQ M^-1_PQ tr(T_P D T_Q D),
    d_P = tr(T_P D),

(a = 1 for the Coulomb energy, b the exchange fraction) moves with the atoms as

    dE = sum_{P,ij} dT_Pij G_Pij + sum_PQ dM_PQ H_PQ,
    G_P = a e_P D - (b / 2) C Z_P C^T,     H = -(a / 2) e e^T + (b / 4) Z Z^T,

with e = M^-1 d, Z_P = C^T (M^-1 T)_P C (m, m) and Z Z^T summed over Z_P's m^2 values, from
d(M^-1) = -M^-1 dM M^-1. M^-1 is X^T X of the fit's factor X (`df`): the inverse, or the
pseudo-inverse where the metric is singular to rounding, differentiated as PySCF does.
From the fitted tensor B = X T: e = X^T (B w D) and Z = X^T (C^T B_P C).

G and H are numbers; the integrals' derivatives are then contracted with them as they are
made (`auxiliary_gradient`, through programs every molecule size shares): the memory is
B's and G's, naux nao^2 / 2 values each, where differentiating through the fit and the
Fock builds held every intermediate of (P|ij) at once (over 23 GB at 10 heavy atoms in
def2-SVP).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals import triangle
from dftgen.integrals.auxiliary import metric
from dftgen.integrals.auxiliary_gradient import metric_gradient, three_centre_gradient
from dftgen.integrals.df import EXCHANGE_BLOCK_BYTES, _apply, _factor, fitted_eri
from dftgen.integrals.layout import BasisArrays, layout_and_arrays


def gradient(mol, basis, auxbasis, orbitals, coulomb: float, exchange: float,
             omega: float = 0.0) -> np.ndarray:
    """dE/dR (natoms, 3) in Hartree/Bohr of E = coulomb/2 tr(D J) - exchange/4 tr(D K)
    with J and K fitted in the auxiliary BasisSet `auxbasis` (of erf(omega r)/r for
    omega > 0, Bohr^-1), D = orbitals orbitals^T (orbitals (nao, m)), in float64."""
    layout, arrays = layout_and_arrays(mol, basis, "float64")
    aux_layout, aux_arrays = layout_and_arrays(mol, auxbasis, "float64")
    arrays, aux_arrays = (BasisArrays(*(np.asarray(a) for a in arr)) for arr in (arrays, aux_arrays))
    factor = _factor(metric(mol, auxbasis, omega))
    b = fitted_eri(mol, basis, auxbasis, omega, factor=factor).b
    g, h = _weights(*factor, b, jnp.asarray(orbitals, jnp.float64), float(coulomb),
                    float(exchange))
    del b
    return (three_centre_gradient(layout, arrays, aux_layout, aux_arrays, np.asarray(g), omega)
            + metric_gradient(aux_layout, aux_arrays, np.asarray(h), omega))


@executables.jit(static_argnums=(4, 5))
def _weights(factor: jnp.ndarray, is_cholesky: jnp.ndarray, b: jnp.ndarray,
             orbitals: jnp.ndarray, coulomb: float, exchange: float
             ) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(G as lower triangles (naux, npair), H (naux, naux)) from the factor (`df._factor`),
    B (naux, npair) and C (nao, m)."""
    nao, m = orbitals.shape
    dm = orbitals @ orbitals.T
    e = _apply(factor, is_cholesky, (b @ triangle.weighted(dm))[:, None], True)[:, 0]
    i, j, _, _ = triangle.pairs(nao)
    g = coulomb * e[:, None] * dm[i, j]
    h = -0.5 * coulomb * jnp.outer(e, e)
    if exchange == 0:
        return g, h
    rows = max(1, EXCHANGE_BLOCK_BYTES // (nao * nao * 8))
    z = jax.lax.map(lambda b_p: orbitals.T @ triangle.unpack(b_p, nao) @ orbitals, b,
                    batch_size=rows)
    z = _apply(factor, is_cholesky, z.reshape(-1, m * m), True)
    g = g - 0.5 * exchange * jax.lax.map(
        lambda z_p: (orbitals @ z_p.reshape(m, m) @ orbitals.T)[i, j], z, batch_size=rows)
    return g, h + 0.25 * exchange * (z @ z.T)
