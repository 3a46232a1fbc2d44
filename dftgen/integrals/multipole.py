"""Dipole integrals <m| r - O |n> by McMurchie-Davidson, for dipole moments.

With the Hermite expansion of a primitive pair, x_O = (x - P_x) + (P_x - O_x) and
(x - P_x) Lambda_0 integrates to E_100 (pi/p)^(3/2), so
    <m| x_O |n> = (pi/p)^(3/2) (E_100 + (P_x - O_x) E_000),
and likewise for y and z. An s-s pair has no E_100 term. About another origin,
<m| r - O |n> = <m| r |n> - O S_mn.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals.layout import BasisArrays, Layout, is_traced, layout_and_arrays
from dftgen.integrals.one_electron import _assemble, _dipole_of, matrices
from dftgen.integrals.pairs import pair_data
from dftgen.precision import on_device


def dipole_matrices(layout: Layout, arrays: BasisArrays, origin) -> jnp.ndarray:
    """(3, nao, nao) position integrals about `origin` (3,), Bohr (pure; vmappable)."""
    blocks = [(cls, _dipole_of(pair_data(layout, cls, arrays), origin))
              for cls in layout.pair_classes(unique=False, pad=True)]
    return jnp.stack([_assemble(layout, [(cls, b[:, k]) for cls, b in blocks]) for k in range(3)])


_dipole_jit = executables.jit(dipole_matrices, static_argnums=0)


def dipole(mol, basis, precision: str = "float64", origin=(0.0, 0.0, 0.0)) -> jnp.ndarray:
    """<m| r - origin |n> for x, y, z: (3, nao, nao) in Bohr, PySCF's int1e_r order.
    Concrete positions go through the one-electron programs every molecule size shares
    (`one_electron.matrices`)."""
    layout, arrays = layout_and_arrays(mol, basis, precision)
    if is_traced(arrays):
        return _dipole_jit(layout, arrays, on_device(origin, arrays.positions.dtype))
    origin = np.asarray(origin, dtype=np.float64)
    if not origin.any():
        return matrices(mol, basis, ("dipole",), precision)["dipole"]
    got = {k: np.asarray(v) for k, v in matrices(mol, basis, ("overlap", "dipole"), precision).items()}
    return on_device((got["dipole"] - origin[:, None, None] * got["overlap"]).astype(got["dipole"].dtype))
