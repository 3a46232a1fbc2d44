"""Derivatives of the density-fitting integrals contracted with fixed weights,

    sum_{P,ij} G_Pij d(P|ij)/dR   and   sum_PQ H_PQ d(P|Q)/dR   (natoms, 3),

through programs that every molecule size shares, as `auxiliary.three_centre_stepwise`
computes the integrals themselves: a new molecule compiles nothing that one with the same
kinds of shells compiled before.

The entries of each side are single primitives: an orbital pair's primitive pairs and an
auxiliary function's primitives, each a one-primitive shell of its kind carrying its
contraction coefficient, so that a contracted integral is the sum of its entries' and each
entry's weight is that of the integral it adds to. Primitives the integrals leave out by
their Schwarz bound (`auxiliary.THREE_CENTRE_THRESHOLD`) are left out here too. A program
takes a block of BLOCK tiles of each side, makes their Hermite data from exponents,
coefficients and centres, and returns the derivative of sum (integrals x weights) with
respect to the centres (JAX autodiff, one tile pair at a time, each recomputed in the
backward pass instead of held); the host adds the centres' derivatives to their atoms.
An auxiliary function's Hermite data depend on its centre only through the centre itself
(its partner is the constant 1 on the same atom); an orbital pair's through both atoms.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals import triangle
from dftgen.integrals.auxiliary import (THREE_CENTRE_BLOCK_BYTES, THREE_CENTRE_THRESHOLD,
                                        _aux_indices, _function_data_stepwise,
                                        _gather_functions, _kinds, function_data_of)
from dftgen.integrals.eri import (_banded_tile_block, _class_order, _pair_bytes, _tile_plan,
                                  class_data_of)
from dftgen.integrals.eri_stepwise import BLOCK, class_data_and_bounds
from dftgen.integrals.layout import BasisArrays, Layout
from dftgen.integrals.pairs import gather, max_l, pair_data_of_sides


class Entries(NamedTuple):
    """The kept primitives of one side's class or kind, m of them: raw their arrays, entries
    first (an orbital pair: both sides' (exponents (m, 1), coefficients (m, 1, ncart),
    centres (m, 3)); an auxiliary function: (exponents (m, 1), coefficients (m, ncart, 1),
    centres (m, 3))); kinds the static kinds (two for a pair, one for a function) with one
    primitive; atoms (m, ncentre) the atom of each centre; index (m, f) where each function
    (product) of the entry sits in the weights; factor (m,) the entry's weight multiplier."""

    raw: tuple
    kinds: tuple
    atoms: np.ndarray
    index: np.ndarray
    factor: np.ndarray


def three_centre_gradient(layout: Layout, arrays: BasisArrays, aux_layout: Layout,
                          aux_arrays: BasisArrays, weights: np.ndarray,
                          omega: float = 0.0) -> np.ndarray:
    """sum_{P,ij} G_Pij d(P|ij)/dR (natoms, 3) for symmetric G_P given as their lower
    triangles, weights (naux, npair) (`dftgen.integrals.triangle`), concrete arrays;
    omega > 0: of erf(omega r)/r (Bohr^-1)."""
    functions = _function_entries(aux_layout, aux_arrays)
    pairs = [class_data_and_bounds(layout, cls, arrays)[1] for cls in _class_order(layout)]
    largest_aux = max(bounds.max() for _, bounds in functions)
    largest_pair = max(bounds.max() for bounds in pairs)
    functions = [_take(y, np.flatnonzero(bounds * largest_pair >= THREE_CENTRE_THRESHOLD))
                 for y, bounds in functions]
    out = np.zeros((layout.natoms, 3))
    for cls, bounds in zip(_class_order(layout), pairs):
        x = _pair_entries(layout, cls, arrays, bounds * largest_aux >= THREE_CENTRE_THRESHOLD)
        for y in functions:
            out += _contracted_gradient(
                x, y, lambda bra, ket: weights[ket.index[None, None], bra.index[:, :, None, None]],
                layout.natoms, omega)
    return out


def metric_gradient(aux_layout: Layout, aux_arrays: BasisArrays, weights: np.ndarray,
                    omega: float = 0.0) -> np.ndarray:
    """sum_PQ H_PQ d(P|Q)/dR (natoms, 3) for symmetric weights H (naux, naux), concrete
    arrays; omega > 0: of erf(omega r)/r (Bohr^-1). Each pair of auxiliary kinds is taken
    once, twice over where the two differ ((P|Q) = (Q|P))."""
    functions = [_take(y, np.flatnonzero(bounds > 0))  # not the padding's zero coefficients
                 for y, bounds in _function_entries(aux_layout, aux_arrays)]
    out = np.zeros((aux_layout.natoms, 3))
    for n, x in enumerate(functions):
        for m, y in enumerate(functions[n:]):
            out += (1.0 if m == 0 else 2.0) * _contracted_gradient(
                x, y, lambda bra, ket: weights[bra.index[:, :, None, None], ket.index[None, None]],
                aux_layout.natoms, omega)
    return out


def _pair_entries(layout: Layout, cls, arrays: BasisArrays, keep: np.ndarray) -> Entries:
    """The primitive pairs of a class where keep (npair, npa npb)."""
    side_a, side_b = gather(layout, cls, arrays)
    npair, npa = side_a[0].shape
    k, ia, jb = np.nonzero(keep.reshape(npair, npa, -1))
    rows = np.array([layout.groups[a].aos for a, _ in cls.pairs])
    cols = np.array([layout.groups[b].aos for _, b in cls.pairs])
    index = triangle.index(rows[:, :, None], cols[:, None, :]).reshape(npair, -1)
    off = np.array([a != b for a, b in cls.pairs])
    atoms = np.array([(layout.groups[a].atom, layout.groups[b].atom) for a, b in cls.pairs])

    def primitive(side, which):
        exponents, coefficients, centres = side
        return exponents[k, which, None], coefficients[k, which, None], centres[k]

    return Entries((primitive(side_a, ia), primitive(side_b, jb)),
                   (cls.kind_a._replace(nprim=1), cls.kind_b._replace(nprim=1)),
                   atoms[k], index[k], np.where(off, 2.0, 1.0)[k])


def _function_entries(aux_layout: Layout, aux_arrays: BasisArrays
                      ) -> list[tuple[Entries, np.ndarray]]:
    """(the primitives of each auxiliary kind, their Schwarz bounds (m,))."""
    out = []
    for kind, groups in _kinds(aux_layout).items():
        q, coefficients, centres = _gather_functions(aux_layout, kind, groups, aux_arrays)
        bounds = _function_data_stepwise(aux_layout, kind, groups, aux_arrays)[1]
        g, i = np.divmod(np.arange(bounds.size), bounds.shape[1])  # every primitive
        atoms = np.array([aux_layout.groups[n].atom for n in groups])
        out.append((Entries((q[g, i, None], coefficients[g, :, i, None], centres[g]),
                            (kind._replace(nprim=1),), atoms[g, None],
                            _aux_indices(aux_layout, groups)[g], np.ones(len(g))),
                    bounds[g, i]))
    return out


def _contracted_gradient(x: Entries, y: Entries, weights_of, natoms: int,
                         omega: float) -> np.ndarray:
    """d/dR (natoms, 3) of sum over the integrals between x's and y's entries times
    weights_of(bra entries, ket entries) (mx, fx, my, fy) (times both sides' factors), a
    run of x's entries against all of y's at a time, a block of BLOCK tiles of each a call."""
    out = np.zeros((natoms, 3))
    if len(x.factor) == 0 or len(y.factor) == 0:
        return out
    lx, ly = sum(max_l(k) for k in x.kinds), max_l(y.kinds[0])
    fx, fy = x.index.shape[1], y.index.shape[1]
    plan = _tile_plan(len(x.factor), len(y.factor),
                      _pair_bytes((lx, 1, fx), (ly, 1, fy), 8, (1, 1)), 4 << 20, False,
                      (1, 1), True)
    bra_block, ket_block = BLOCK * plan.tx, BLOCK * plan.ty
    y_padded = _padded(y, ket_block)
    run = bra_block * max(1, THREE_CENTRE_BLOCK_BYTES // (8 * bra_block * fx * fy
                                                          * len(y_padded.factor)))
    for first in range(0, len(x.factor), run):
        x_run = _padded(_slice(x, first, first + run), bra_block)
        w = (weights_of(x_run, y_padded) * x_run.factor[:, None, None, None]
             * y_padded.factor[None, None, :, None])
        for i in range(0, len(x_run.factor), bra_block):
            bra = _slice(x_run, i, i + bra_block)
            for j in range(0, len(y_padded.factor), ket_block):
                ket = _slice(y_padded, j, j + ket_block)
                tile_weights = w[i:i + bra_block, :, j:j + ket_block].reshape(
                    BLOCK, plan.tx, fx, BLOCK, plan.ty, fy)
                d_bra, d_ket = _block_gradient(bra.raw, ket.raw, tile_weights, x.kinds,
                                               y.kinds, float(omega))
                for entries, d in ((bra, d_bra), (ket, d_ket)):
                    for side, d_side in enumerate(d):
                        np.add.at(out, entries.atoms[:, side], np.asarray(d_side))
    return out


def _take(e: Entries, rows: np.ndarray) -> Entries:
    """The entries rows (indices) of e."""
    return Entries(jax.tree.map(lambda a: a[rows], e.raw), e.kinds, e.atoms[rows],
                   e.index[rows], e.factor[rows])


def _slice(e: Entries, start: int, stop: int) -> Entries:
    return _take(e, np.arange(start, min(stop, len(e.factor))))


def _padded(e: Entries, multiple: int) -> Entries:
    """e's entries up to a multiple of `multiple`, the last one repeated with factor 0."""
    n = len(e.factor)
    padded = _take(e, np.minimum(np.arange(-(-n // multiple) * multiple), n - 1))
    return padded._replace(factor=np.where(np.arange(len(padded.factor)) < n, padded.factor, 0.0))


def _centres(raw: tuple, kinds: tuple) -> tuple:
    return (raw[0][2], raw[1][2]) if len(kinds) == 2 else (raw[2],)


def _entry_data(raw: tuple, kinds: tuple, centres: tuple):
    """The ClassData of entries (`Entries.raw`) with their centres replaced by `centres`."""
    if len(kinds) == 2:
        sides = [(e, c, centre) for (e, c, _), centre in zip(raw, centres)]
        return class_data_of(pair_data_of_sides(*sides, *kinds), max_l(kinds[0]) + max_l(kinds[1]))
    return function_data_of(raw[0], raw[1], centres[0], kinds[0])


@executables.jit(static_argnums=(3, 4, 5))
def _block_gradient(bra_raw, ket_raw, weights, bra_kinds, ket_kinds, omega):
    """d/d(centres) of sum over the tile pairs of a block of BLOCK bra tiles (BLOCK tx
    entries) and one of BLOCK ket tiles (BLOCK ty) of their integrals times weights
    (BLOCK, tx, fx, BLOCK, ty, fy): the derivatives of each side's centres, (BLOCK tx, 3)
    or (BLOCK ty, 3) each."""
    lx = sum(max_l(k) for k in bra_kinds)
    ly = max_l(ket_kinds[0])

    def value(bra_centres, ket_centres):
        x, y = (jax.tree.map(lambda a: a.reshape(BLOCK, -1, *a.shape[1:]),
                             _entry_data(raw, kinds, centres))
                for raw, kinds, centres in ((bra_raw, bra_kinds, bra_centres),
                                            (ket_raw, ket_kinds, ket_centres)))

        def tile_pair(k):
            i, j = k // BLOCK, k % BLOCK
            tile = _banded_tile_block(jax.tree.map(lambda a: a[i], x),
                                      jax.tree.map(lambda a: a[j], y), lx, ly, (1, 1), None,
                                      None, omega)
            return jnp.vdot(tile, weights[i, :, :, j])

        return jnp.sum(jax.lax.map(jax.checkpoint(tile_pair), jnp.arange(BLOCK * BLOCK)))

    return jax.grad(value, argnums=(0, 1))(_centres(bra_raw, bra_kinds),
                                           _centres(ket_raw, ket_kinds))
