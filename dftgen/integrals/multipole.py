"""Dipole integrals <m| r - O |n> by McMurchie-Davidson, for dipole moments.

With the Hermite expansion of a primitive pair, x_O = (x - P_x) + (P_x - O_x) and
(x - P_x) Lambda_0 integrates to E_100 (pi/p)^(3/2), so
    <m| x_O |n> = (pi/p)^(3/2) (E_100 + (P_x - O_x) E_000),
and likewise for y and z. An s-s pair has no E_100 term.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dftgen.integrals.layout import BasisArrays, Layout, layout_and_arrays
from dftgen.integrals.one_electron import _assemble
from dftgen.integrals.pairs import pair_data


def dipole_matrices(layout: Layout, arrays: BasisArrays, origin) -> jnp.ndarray:
    """(3, nao, nao) position integrals about `origin` (3,), Bohr (pure; vmappable)."""
    per_axis = [[], [], []]
    for cls in layout.pair_classes(unique=False, pad=True):
        pd = pair_data(layout, cls, arrays)
        norm = ((jnp.pi / pd.p) ** 1.5)[..., None]
        e000 = pd.e[:, :, 0]
        for k in range(3):
            # hermite_tuples orders (1,0,0), (0,1,0), (0,0,1) right after (0,0,0)
            first = pd.e[:, :, 1 + k] if pd.e.shape[2] > 1 else 0.0
            shifted = first + (pd.centre[:, :, k] - origin[k])[..., None] * e000
            per_axis[k].append((cls, (norm * shifted).sum(axis=1)))
    return jnp.stack([_assemble(layout, blocks) for blocks in per_axis])


_dipole_jit = jax.jit(dipole_matrices, static_argnums=0)


def dipole(mol, basis, precision: str = "float64", origin=(0.0, 0.0, 0.0)) -> jnp.ndarray:
    """<m| r - origin |n> for x, y, z: (3, nao, nao) in Bohr, PySCF's int1e_r order."""
    layout, arrays = layout_and_arrays(mol, basis, precision)
    return _dipole_jit(layout, arrays, jnp.asarray(origin, arrays.positions.dtype))
