"""Coulomb integrals with auxiliary (fitting) functions: the three-index (ij|P) and the
two-index metric (P|Q) of density fitting, s to g auxiliary shells.

An auxiliary function chi_P(r) = sum_k c_k x_C^a y_C^b z_C^c exp(-q_k r_C^2) is a product
pair whose partner is the constant 1 (exponent 0, same centre): along each axis
x_C^i exp(-q x_C^2) = sum_t E^{i0}_t(q, 0) Lambda_t(x; q, C), so

    (ij|P) = sum_{prims} 2 pi^(5/2) / (p q sqrt(p+q))
             sum_{tuv} E^{ij}_{tuv} sum_{t'u'v'} (-1)^{t'+u'+v'} E^{P}_{t'u'v'} R_{t+t',u+u',v+v'}(alpha, P-C)

is the ERI (ij|kl) with the ket pair's Hermite data replaced by chi_P's, and (P|Q) the
same with both sides single functions. Everything else (Boys function, R recursion, the
tiled bra and ket contractions, the attenuated operator erf(omega r)/r of omega > 0) is
eri.py's: the pair data of the bra come from `eri._class_data`, and auxiliary functions are
laid out as its `ClassData` with one "primitive pair" per primitive.

Output in PySCF's AO and auxiliary orders and normalisation: `three_centre` equals
`pyscf.df.incore.aux_e2(mol, auxmol, "int3c2e")` transposed to (naux, nao, nao), and
`metric` equals `auxmol.intor("int2c2e")`; with omega > 0 both are those of
`mol.with_range_coulomb(omega)` (and its auxmol), the integrals of PySCF's range-separated
density fitting (`DF.range_coulomb`). Hartree atomic units; differentiable in the
positions.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals.eri import (ClassData, _banded_tile_block, _class_data, _class_order,
                                  _class_pair_tiles, _hermite_sign, _pair_bytes, _split,
                                  _tile_plan, primitive_bounds)
from dftgen.integrals.eri_stepwise import BLOCK, CALL_STEPS, class_data_and_bounds, tile_blocks
from dftgen.integrals.hermite import expansion_coefficients, hermite_tuples
from dftgen.integrals.layout import (BasisArrays, Kind, Layout, angular, is_traced,
                                     layout_and_arrays, trace_counts)
from dftgen.integrals import triangle
from dftgen.integrals.pairs import in_chunks


def _kinds(layout: Layout) -> dict[Kind, list[int]]:
    """The groups of an auxiliary layout by kind, each padded to the largest primitive count
    of its angular momenta as the ERI's pair classes are: one program per angular momentum
    to compile (zero coefficients pad the few contracted shells of the def2 jkfit sets)."""
    classes: dict[Kind, list[int]] = {}
    for g, kind in enumerate(layout.kinds(pad=True)):
        classes.setdefault(kind, []).append(g)
    return classes


def function_data(layout: Layout, kind: Kind, groups: list[int], arrays: BasisArrays) -> ClassData:
    """Hermite data of single contracted groups (the auxiliary functions), as eri.py's
    ClassData with one entry per primitive: p (n, np) exponents q, centre (n, np, 3),
    bra (n, f, np nh) E / q and ket (n, np nh, f) E (-1)^(t+u+v) / q, over
    hermite_tuples(l) for the group's highest l."""
    return function_data_of(*_gather_functions(layout, kind, groups, arrays), kind)


def _gather_functions(layout: Layout, kind: Kind, groups: list[int], arrays: BasisArrays):
    """Exponents (n, np), contraction coefficients (n, ncart, np) and centres (n, 3) of the
    groups (NumPy or JAX, as `arrays`)."""
    _, shell_of, _ = angular(kind.ls, kind.cartesian)
    shells = np.array([layout.groups[g].shells for g in groups])
    return (arrays.exponents[shells[:, 0], :kind.nprim],
            arrays.coefficients[shells[:, shell_of], :kind.nprim],
            arrays.positions[np.array([layout.groups[g].atom for g in groups])])


def function_data_of(q, coefs, centre, kind: Kind) -> ClassData:
    """`function_data` from the groups' `_gather_functions`."""
    powers, _, to_ao = angular(kind.ls, kind.cartesian)
    l = max(kind.ls)
    # E^{i0}_t along each axis: (n, np, 3, i, t); the partner's exponent and offset are zero
    table = expansion_coefficients(l, 0, q[..., None], 0.0, jnp.zeros(3, q.dtype))[..., 0, :]
    herm = np.array(hermite_tuples(l))
    cart = functools.reduce(jnp.multiply, (table[:, :, d][..., powers[None, :, d], herm[:, None, d]]
                                            for d in range(3)))  # (n, np, nh, ncart)
    e = jnp.einsum("xkhc,xck,cf->xkhf", cart, coefs, to_ao.astype(q.dtype)) / q[..., None, None]
    n, nprim, nh, f = e.shape
    sign = _hermite_sign(l).astype(e.dtype)[:, None]
    return ClassData(p=q, centre=jnp.broadcast_to(centre[:, None], (n, nprim, 3)),
                     bra=jnp.transpose(e, (0, 3, 1, 2)).reshape(n, f, nprim * nh),
                     ket=(e * sign).reshape(n, nprim * nh, f))


def _block(x: ClassData, y: ClassData, lx: int, ly: int, chunk_bytes: int,
           omega: float) -> jnp.ndarray:
    """All integrals between the entries of x and of y: (nx, fx, ny, fy), tile by tile
    (eri.py's tiles: a bounded working set) and put back in entry order; omega > 0: of
    erf(omega r)/r."""
    (nx, ppx), (ny, ppy) = x.p.shape, y.p.shape
    fx, fy = x.bra.shape[1], y.ket.shape[2]
    itemsize = jnp.dtype(x.p.dtype).itemsize
    bands = (1, 1)
    plan = _tile_plan(nx, ny, _pair_bytes((lx, ppx, fx), (ly, ppy, fy), itemsize, bands),
                      chunk_bytes, False, bands)
    # steps in row order over (ntx, nty)
    tiles = _class_pair_tiles(x, y, lx, ly, plan, omega=omega)
    ntx, nty = plan.ntiles
    tiles = tiles.reshape(ntx, nty, plan.tx, fx, plan.ty, fy).transpose(0, 2, 3, 1, 4, 5)
    return tiles.reshape(ntx * plan.tx, fx, nty * plan.ty, fy)[:nx, :, :ny]  # padding dropped


def _aux_indices(layout: Layout, groups: list[int]) -> np.ndarray:
    """(n, f) auxiliary index of each function of the groups."""
    return np.array([layout.groups[g].aos for g in groups])


def three_centre_matrix(layout: Layout, arrays: BasisArrays, aux_layout: Layout,
                        aux_arrays: BasisArrays, chunk_bytes: int = 4 << 20,
                        omega: float = 0.0) -> jnp.ndarray:
    """(P|ij) as (naux, nao, nao) from traced arrays (pure): every unique orbital pair class
    against every auxiliary kind, each block written to both (i, j) and (j, i); omega > 0:
    of erf(omega r)/r (Bohr^-1)."""
    trace_counts["three_centre"] += 1
    aux = {kind: function_data(aux_layout, kind, groups, aux_arrays)
           for kind, groups in _kinds(aux_layout).items()}
    out = jnp.zeros((aux_layout.nao, layout.nao, layout.nao), arrays.exponents.dtype)
    for cls in _class_order(layout):
        pairs = _class_data(layout, cls, arrays)
        lx = max(cls.kind_a.ls) + max(cls.kind_b.ls)
        rows = np.array([layout.groups[a].aos for a, _ in cls.pairs])[:, :, None, None, None]
        cols = np.array([layout.groups[b].aos for _, b in cls.pairs])[:, None, :, None, None]
        for (kind, groups), functions in zip(_kinds(aux_layout).items(), aux.values()):
            block = _block(pairs, functions, lx, max(kind.ls), chunk_bytes, omega)
            block = block.reshape(rows.shape[0], rows.shape[1], cols.shape[2], *block.shape[2:])
            p = _aux_indices(aux_layout, groups)[None, None, None]
            out = out.at[p, rows, cols].set(block).at[p, cols, rows].set(block)
    return out


def metric_matrix(aux_layout: Layout, aux_arrays: BasisArrays, chunk_bytes: int = 4 << 20,
                  omega: float = 0.0) -> jnp.ndarray:
    """(P|Q) (naux, naux) from traced arrays (pure); omega > 0: of erf(omega r)/r."""
    trace_counts["metric"] += 1
    kinds = _kinds(aux_layout)
    data = [function_data(aux_layout, kind, groups, aux_arrays) for kind, groups in kinds.items()]
    out = jnp.zeros((aux_layout.nao,) * 2, aux_arrays.exponents.dtype)
    for (kx, gx), x in zip(kinds.items(), data):
        for (ky, gy), y in zip(kinds.items(), data):
            block = _block(x, y, max(kx.ls), max(ky.ls), chunk_bytes, omega)
            rows = _aux_indices(aux_layout, gx)[:, :, None, None]
            out = out.at[rows, _aux_indices(aux_layout, gy)[None, None]].set(block)
    return out


#: auxiliary functions per call of `_function_chunk`: one program serves every molecule size
FUNCTION_CHUNK = 64
#: (ij|P) smaller than this (Hartree) by their Schwarz bound may be left out: a primitive
#: (an orbital pair's primitive pair, or an auxiliary function's primitive) is skipped where
#: its bound times the largest of the other side's stays below it
THREE_CENTRE_THRESHOLD = 1e-14
#: bytes of (ij|P) primitive blocks `three_centre_stepwise` holds at once, beside its result
THREE_CENTRE_BLOCK_BYTES = 64 << 20


@executables.jit(static_argnums=3)
def _function_chunk(q, coefs, centre, kind):
    data = function_data_of(q, coefs, centre, kind)
    return data, primitive_bounds(data, max(kind.ls))


def _function_data_stepwise(layout: Layout, kind: Kind, groups: list[int],
                            arrays) -> tuple[ClassData, np.ndarray]:
    """`function_data` as NumPy arrays and the Schwarz bound of each function's primitives on
    their own (n, np), FUNCTION_CHUNK functions a call (`in_chunks`)."""
    return in_chunks(_function_chunk, _gather_functions(layout, kind, groups, arrays),
                     len(groups), FUNCTION_CHUNK, kind)


@executables.jit(static_argnums=(3, 4, 5))
def _tile_values(bra: ClassData, ket: ClassData, steps, lx: int, ly: int, omega: float):
    """(CALL_STEPS, tx, fx, ty, fy): the tile pairs steps (CALL_STEPS, 2) of a block of
    BLOCK bra tiles and one of BLOCK ket tiles, unscreened."""
    def step(ij):
        return _banded_tile_block(jax.tree.map(lambda a: a[ij[0]], bra),
                                  jax.tree.map(lambda a: a[ij[1]], ket), lx, ly, (1, 1), None,
                                  None, omega)
    return jax.lax.map(step, steps)


def _block_stepwise(x: ClassData, y: ClassData, lx: int, ly: int, omega: float) -> np.ndarray:
    """`_block` of NumPy ClassData through programs shared by every molecule size: tiles of
    fixed sizes, CALL_STEPS tile pairs a call."""
    (nx, ppx), (ny, ppy) = x.p.shape, y.p.shape
    fx, fy = x.bra.shape[1], y.ket.shape[2]
    plan = _tile_plan(nx, ny, _pair_bytes((lx, ppx, fx), (ly, ppy, fy), x.p.dtype.itemsize,
                                          (1, 1)), 4 << 20, False, (1, 1), True)
    bra, ket = tile_blocks(x, plan.tx, "bra"), tile_blocks(y, plan.ty, "ket")
    ntx, nty = -(-nx // plan.tx), -(-ny // plan.ty)
    tiles = np.zeros((ntx, nty, plan.tx, fx, plan.ty, fy), x.p.dtype)
    for bi in range(len(bra)):
        for bj in range(len(ket)):
            steps = np.array([(i, j) for i in range(BLOCK) for j in range(BLOCK)
                              if bi * BLOCK + i < ntx and bj * BLOCK + j < nty])
            for start in range(0, len(steps), CALL_STEPS):
                part = steps[start:start + CALL_STEPS]
                out = _tile_values(bra[bi], ket[bj], np.resize(part, (CALL_STEPS, 2)).astype(np.int32),
                                   lx, ly, omega)
                tiles[bi * BLOCK + part[:, 0], bj * BLOCK + part[:, 1]] = np.asarray(out)[:len(part)]
    tiles = tiles.transpose(0, 2, 3, 1, 4, 5).reshape(ntx * plan.tx, fx, nty * plan.ty, fy)
    return tiles[:nx, :, :ny]


class Primitives(NamedTuple):
    """The kept primitives of a class's entries (orbital pairs or auxiliary functions), each
    an entry of one primitive (m, 1) in entry order, with the entries they belong to:
    owner (k,) the k entries with any kept, starts (k,) where each one's primitives begin."""

    data: ClassData
    owner: np.ndarray
    starts: np.ndarray


def _primitives(data: ClassData, keep: np.ndarray) -> Primitives:
    """The primitives of data (n, np) where keep (n, np), as entries of their own."""
    nprim = data.p.shape[1]
    rows = np.flatnonzero(keep)
    owner = rows // nprim
    starts = np.flatnonzero(np.diff(owner, prepend=-1))
    return Primitives(ClassData(*(a[rows] for a in _split(data, nprim))), owner[starts], starts)


def _runs(starts: np.ndarray, total: int, most: int) -> list[tuple[int, int]]:
    """Consecutive entries [a, b) whose primitives (entry k's from starts[k] to the next
    start, the last to total) number at most `most` together, or one entry alone."""
    ends = np.append(starts[1:], total)
    runs, first = [], 0
    for k in range(1, len(starts)):
        if ends[k] - starts[first] > most:
            runs.append((first, k))
            first = k
    return runs + [(first, len(starts))] if len(starts) else []


def _contracted_block(x: Primitives, y: Primitives, run: tuple[int, int], lx: int, ly: int,
                      omega: float) -> np.ndarray:
    """(ij|P) of x's entries [a, b) = run with every entry of y, (b - a, fx, ny, fy): the
    integrals of their primitives (`_block_stepwise`) summed over each entry's."""
    a, b = run
    end = x.starts[b] if b < len(x.starts) else len(x.data.p)
    part = _block_stepwise(jax.tree.map(lambda v: v[x.starts[a]:end], x.data), y.data, lx, ly,
                           omega)
    return np.add.reduceat(np.add.reduceat(part, x.starts[a:b] - x.starts[a], axis=0),
                           y.starts, axis=2)


def three_centre_stepwise(layout: Layout, arrays, aux_layout: Layout, aux_arrays,
                          omega: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """`three_centre_matrix` for concrete arrays through programs every molecule size shares,
    over the orbital pairs i >= j: written into `out` (NumPy, (naux, npair), [P, p] = (P|ij)
    for the pair p = i (i + 1) / 2 + j, `dftgen.integrals.triangle`: the layout of the
    fitted tensor, which is then made in place), a new array if None; returns out."""
    return next(three_centre_slabs(layout, arrays, aux_layout, aux_arrays, omega,
                                   [0, layout.natoms], out))[1]


def _first_aos(layout: Layout) -> np.ndarray:
    """(natoms + 1,) the first AO of each atom (the AOs of an atom are consecutive, atoms in
    order), nao last; an atom without functions takes the next one's."""
    first = np.full(layout.natoms + 1, layout.nao)
    for group in layout.groups:
        first[group.atom] = min(first[group.atom], min(group.aos))
    return np.minimum.accumulate(first[::-1])[::-1]


def slab_edges(layout: Layout, aux_nao: int, most_bytes: int) -> list[int]:
    """Atom indices [0, ..., natoms] cutting the pairs i >= j by the atom of i into slabs of
    (P|ij) of at most most_bytes in float64 each (or one atom alone)."""
    first = _first_aos(layout)
    pairs = first * (first + 1) // 2
    edges = [0]
    for atom in range(2, layout.natoms + 1):
        if (pairs[atom] - pairs[edges[-1]]) * aux_nao * 8 > most_bytes and atom - 1 > edges[-1]:
            edges.append(atom - 1)
    return edges + [layout.natoms]


def three_centre_slabs(layout: Layout, arrays, aux_layout: Layout, aux_arrays, omega: float,
                       edges: list[int], out: np.ndarray | None = None):
    """(P|ij) slab by slab: for consecutive atoms [edges[k], edges[k + 1]), yields (first
    pair, (naux, pairs)) with the pairs i >= j whose i lies on those atoms (consecutive in
    pair order, since each atom's AOs are), [P, p - first pair] = (P|ij). out: the array
    of the first slab (None: a new one).

    Integrals are computed primitive by primitive and summed into contracted ones, so that
    neither the padding of the shells to their kind's longest contraction (zero
    coefficients) nor primitives below THREE_CENTRE_THRESHOLD cost anything; orbital pairs
    go in runs of at most THREE_CENTRE_BLOCK_BYTES of primitive integrals (against all of an
    auxiliary kind), tile pairs in calls of CALL_STEPS."""
    arrays, aux_arrays = (BasisArrays(*(np.asarray(a) for a in arr)) for arr in (arrays, aux_arrays))
    aux = {kind: (groups, *_function_data_stepwise(aux_layout, kind, groups, aux_arrays))
           for kind, groups in _kinds(aux_layout).items()}
    classes = _class_order(layout)
    pairs = [class_data_and_bounds(layout, cls, arrays) for cls in classes]
    largest_aux = max(bounds.max() for _, _, bounds in aux.values())
    largest_pair = max(bounds.max() for _, bounds in pairs)
    functions = {kind: (groups, _primitives(data, bounds * largest_pair >= THREE_CENTRE_THRESHOLD))
                 for kind, (groups, data, bounds) in aux.items()}
    first = _first_aos(layout)
    first_pair = first * (first + 1) // 2
    for lo, hi in zip(edges[:-1], edges[1:]):
        offset = first_pair[lo]
        if out is None:
            out = np.zeros((aux_layout.nao, first_pair[hi] - offset), arrays.exponents.dtype)
        for cls, (data, bounds) in zip(classes, pairs):
            atom = np.array([max(layout.groups[a].atom, layout.groups[b].atom) for a, b in cls.pairs])
            here = (atom >= lo) & (atom < hi)
            x = _primitives(data, (bounds * largest_aux >= THREE_CENTRE_THRESHOLD) & here[:, None])
            if len(x.owner) == 0:
                continue
            lx = max(cls.kind_a.ls) + max(cls.kind_b.ls)
            rows = np.array([layout.groups[a].aos for a, _ in cls.pairs])[x.owner]
            cols = np.array([layout.groups[b].aos for _, b in cls.pairs])[x.owner]
            for kind, (groups, y) in functions.items():
                if len(y.owner) == 0:
                    continue
                per_row = x.data.p.itemsize * x.data.bra.shape[1] * y.data.ket.shape[2] * len(y.data.p)
                p = _aux_indices(aux_layout, [groups[g] for g in y.owner])[None, None, None]
                for run in _runs(x.starts, len(x.data.p), max(1, THREE_CENTRE_BLOCK_BYTES // per_row)):
                    block = _contracted_block(x, y, run, lx, max(kind.ls), omega)
                    i, j = rows[run[0]:run[1], :, None, None, None], cols[run[0]:run[1], None, :, None, None]
                    block = block.reshape(*i.shape[:2], j.shape[2], *block.shape[2:])
                    big, small = np.maximum(i, j), np.minimum(i, j)
                    out[p, big * (big + 1) // 2 + small - offset] = block
        yield int(offset), out
        out = None


def metric_stepwise(aux_layout: Layout, aux_arrays, omega: float = 0.0) -> np.ndarray:
    """`metric_matrix` for concrete arrays, as a NumPy array (as `three_centre_stepwise`)."""
    aux_arrays = BasisArrays(*(np.asarray(a) for a in aux_arrays))
    kinds = _kinds(aux_layout)
    data = [_function_data_stepwise(aux_layout, kind, groups, aux_arrays)[0]
            for kind, groups in kinds.items()]
    out = np.zeros((aux_layout.nao,) * 2, aux_arrays.exponents.dtype)
    for (kx, gx), x in zip(kinds.items(), data):
        for (ky, gy), y in zip(kinds.items(), data):
            block = _block_stepwise(x, y, max(kx.ls), max(ky.ls), omega)
            out[_aux_indices(aux_layout, gx)[:, :, None, None],
                _aux_indices(aux_layout, gy)[None, None]] = block
    return out


@executables.jit(static_argnums=(0, 2, 4))
def _three_centre(layout, arrays, aux_layout, aux_arrays, omega):
    return three_centre_matrix(layout, arrays, aux_layout, aux_arrays, omega=omega)


def three_centre(mol, basis, auxbasis, omega: float = 0.0) -> jnp.ndarray:
    """(P|ij) (naux, nao, nao) in Hartree for `mol` in `basis` with auxiliary basis
    `auxbasis` (BasisSets or names), float64; positions may be JAX tracers. omega: 0 for
    1/r, > 0 (Bohr^-1) for erf(omega r)/r."""
    layout, arrays = layout_and_arrays(mol, basis, "float64")
    aux_layout, aux_arrays = layout_and_arrays(mol, auxbasis, "float64")
    if not is_traced(arrays, aux_arrays):
        packed = three_centre_stepwise(layout, arrays, aux_layout, aux_arrays, float(omega))
        return jnp.asarray(packed[:, triangle.pairs(layout.nao)[3]])
    return _three_centre(layout, arrays, aux_layout, aux_arrays, float(omega))


@executables.jit(static_argnums=(0, 2))
def _metric(aux_layout, aux_arrays, omega):
    return metric_matrix(aux_layout, aux_arrays, omega=omega)


def metric(mol, auxbasis, omega: float = 0.0) -> jnp.ndarray:
    """The Coulomb metric (P|Q) (naux, naux) in Hartree of the auxiliary basis `auxbasis` on
    `mol`, float64; positions may be JAX tracers. omega: 0 for 1/r, > 0 (Bohr^-1) for
    erf(omega r)/r."""
    aux_layout, aux_arrays = layout_and_arrays(mol, auxbasis, "float64")
    if not is_traced(aux_arrays):
        return jnp.asarray(metric_stepwise(aux_layout, aux_arrays, float(omega)))
    return _metric(aux_layout, aux_arrays, float(omega))
