"""Dipole integrals <m| r - O |n> by McMurchie-Davidson, for dipole moments.

With the Hermite expansion of a primitive pair, x_O = (x - P_x) + (P_x - O_x) and
(x - P_x) Lambda_0 integrates to E_100 (pi/p)^(3/2), so
    <m| x_O |n> = (pi/p)^(3/2) (E_100 + (P_x - O_x) E_000),
and likewise for y and z. An s-s pair has no E_100 term.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals.layout import BasisArrays, Layout, is_traced, layout_and_arrays
from dftgen.integrals.one_electron import PAIR_CHUNK, _assemble
from dftgen.integrals.pairs import PairData, by_chunks, pair_data, pair_data_of_sides
from dftgen.precision import on_device


def _dipole_blocks(pd: PairData, origin) -> jnp.ndarray:
    """(npair, 3, nfunc_a * nfunc_b): a pair class's x, y, z integrals about origin."""
    norm = ((jnp.pi / pd.p) ** 1.5)[..., None]
    e000 = pd.e[:, :, 0]
    out = []
    for k in range(3):
        # hermite_tuples orders (1,0,0), (0,1,0), (0,0,1) right after (0,0,0)
        first = pd.e[:, :, 1 + k] if pd.e.shape[2] > 1 else 0.0
        shifted = first + (pd.centre[:, :, k] - origin[k])[..., None] * e000
        out.append((norm * shifted).sum(axis=1))
    return jnp.stack(out, axis=1)


def dipole_matrices(layout: Layout, arrays: BasisArrays, origin) -> jnp.ndarray:
    """(3, nao, nao) position integrals about `origin` (3,), Bohr (pure; vmappable)."""
    blocks = [(cls, _dipole_blocks(pair_data(layout, cls, arrays), origin))
              for cls in layout.pair_classes(unique=False, pad=True)]
    return on_device(np.stack([_assemble(layout, [(cls, b[:, k]) for cls, b in blocks])
                               for k in range(3)]))


_dipole_jit = executables.jit(dipole_matrices, static_argnums=0)


@executables.jit(static_argnums=(3, 4))
def _dipole_chunk(side_a, side_b, origin, kind_a, kind_b):
    return _dipole_blocks(pair_data_of_sides(side_a, side_b, kind_a, kind_b), origin)


def dipole(mol, basis, precision: str = "float64", origin=(0.0, 0.0, 0.0)) -> jnp.ndarray:
    """<m| r - origin |n> for x, y, z: (3, nao, nao) in Bohr, PySCF's int1e_r order.
    Concrete positions go through programs every molecule size shares (`by_chunks`)."""
    layout, arrays = layout_and_arrays(mol, basis, precision)
    origin = on_device(origin, arrays.positions.dtype)
    if is_traced(arrays):
        return _dipole_jit(layout, arrays, origin)
    concrete = BasisArrays(*(np.asarray(a) for a in arrays))
    blocks = [(cls, by_chunks(_dipole_chunk, layout, cls, concrete, np.asarray(origin),
                              chunk=PAIR_CHUNK))
              for cls in layout.pair_classes(unique=False, pad=True)]
    return on_device(np.stack([_assemble(layout, [(cls, b[:, k]) for cls, b in blocks])
                               for k in range(3)]))
