"""Derivatives of the one-electron energy terms contracted with fixed matrices,

    d/dR [ sum_mn D_mn (T + V)_mn - sum_mn W_mn S_mn ]   (natoms, 3),

D the density and W the energy-weighted density of a force calculation, through programs
every molecule size shares, as `one_electron.matrices` computes the matrices: a class's
pairs PAIR_CHUNK at a time against ATOM_CHUNK nuclei a call (padding pairs carry zero
weights, padding nuclei zero charge). A program returns the derivatives with respect to
both sides' centres and the nuclei's positions (JAX autodiff of the weighted sum); the
host adds them to their atoms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals.layout import BasisArrays, Layout
from dftgen.integrals.one_electron import ATOM_CHUNK, _nuclear_of, _overlap_of
from dftgen.integrals.pairs import (PAIR_CHUNK, gather, kinetic_pairs_of_sides, max_l,
                                    pair_data_of_sides)


def one_electron_gradient(layout: Layout, arrays: BasisArrays, dm: np.ndarray,
                          w: np.ndarray) -> np.ndarray:
    """d/dR (natoms, 3) of tr(D (T + V)) - tr(W S) for symmetric D and W (nao, nao),
    concrete arrays, Hartree/Bohr (the nuclear repulsion not included)."""
    arrays = BasisArrays(*(np.asarray(a) for a in arrays))
    natoms = len(arrays.charges)
    nuclei = np.minimum(np.arange(-(-natoms // ATOM_CHUNK) * ATOM_CHUNK), natoms - 1)
    charges = np.where(np.arange(len(nuclei)) < natoms, arrays.charges[nuclei], 0.0)
    out = np.zeros((natoms, 3))
    for cls in layout.pair_classes(unique=True, pad=True):
        rows = np.array([layout.groups[a].aos for a, _ in cls.pairs])[:, :, None]
        cols = np.array([layout.groups[b].aos for _, b in cls.pairs])[:, None, :]
        twice = np.where([a != b for a, b in cls.pairs], 2.0, 1.0)[:, None]  # (a, b) and (b, a)
        weights = [(m[rows, cols].reshape(len(cls.pairs), -1) * twice) for m in (dm, w)]
        sides = gather(layout, cls, arrays)
        atoms = [np.array([layout.groups[pair[s]].atom for pair in cls.pairs]) for s in (0, 1)]
        for start in range(0, len(cls.pairs), PAIR_CHUNK):
            take = np.minimum(np.arange(start, start + PAIR_CHUNK), len(cls.pairs) - 1)
            live = (np.arange(start, start + PAIR_CHUNK) < len(cls.pairs))[:, None]
            chunk = jax.tree.map(lambda a: a[take], sides)
            w_h, w_s = (np.where(live, m[take], 0.0) for m in weights)
            for k in range(0, len(nuclei), ATOM_CHUNK):
                d_a, d_b, d_nuclei = _chunk_gradient(
                    *chunk, arrays.positions[nuclei[k:k + ATOM_CHUNK]],
                    charges[k:k + ATOM_CHUNK], w_h, w_s, k == 0, cls.kind_a, cls.kind_b)
                np.add.at(out, atoms[0][take], np.asarray(d_a))
                np.add.at(out, atoms[1][take], np.asarray(d_b))
                np.add.at(out, nuclei[k:k + ATOM_CHUNK], np.asarray(d_nuclei))
    return out


@executables.jit(static_argnums=(6, 7, 8))
def _chunk_gradient(side_a, side_b, positions, charges, w_h, w_s, with_kinetic_and_overlap,
                    kind_a, kind_b):
    """d/d(A, B, nuclei) of sum w_h (T + V) - sum w_s S over a chunk of pairs (weights
    (npair, nfunc_a nfunc_b)) and ATOM_CHUNK nuclei (positions (ATOM_CHUNK, 3), charges);
    T and S only with with_kinetic_and_overlap (the first chunk of nuclei)."""
    def energy(a, b, nuclei):
        sa, sb = (side_a[0], side_a[1], a), (side_b[0], side_b[1], b)
        pd = pair_data_of_sides(sa, sb, kind_a, kind_b)
        e = jnp.vdot(w_h, _nuclear_of(pd, nuclei, charges, max_l(kind_a) + max_l(kind_b)))
        if with_kinetic_and_overlap:
            e = (e + jnp.vdot(w_h, kinetic_pairs_of_sides(sa, sb, kind_a, kind_b))
                 - jnp.vdot(w_s, _overlap_of(pd)))
        return e
    return jax.grad(energy, argnums=(0, 1, 2))(side_a[2], side_b[2], positions)
