"""The ERIs of a molecule with concrete positions, through programs that do not depend on its
size; and `eri`, the public entry point, which takes that path wherever it can.

`eri.eri_packed` is one traced program per molecule shape: differentiable (forces) and
vmappable, but every new molecule size compiles it anew, and most of that compilation is
the same few tile bodies again. `eri_packed_stepwise` computes the same packed vector as a
host loop over two kinds of program whose shapes are fixed by the kinds of shell groups
alone:

  * per pair class, chunks of PAIR_CHUNK pairs: the primitive pairs' Hermite data and
    their Schwarz bounds (`_class_chunk`);
  * per class pair, CALL_STEPS tile pairs from a block of BLOCK tiles of each class: their
    integrals, by eri_packed's screened tile body, and where each goes in the packed
    vector (`_tile_chunk`).

Tile sizes are fixed by the class pair alone (`eri._tile_plan`'s fixed), not cut to the
classes' sizes. What lies between the programs (sorting primitive pairs into bands,
ordering pairs for screening, choosing the tile pairs that survive it, scattering the
tiles into the packed vector) is index work done with NumPy on the host, by the functions
eri_packed traces. A tile pair that screening leaves out whole is sent to no program.
Every molecule whose basis has the same kinds of groups (every H, C, N, O, F molecule in
STO-3G, or in 6-31G*) runs the programs the first one compiled, and JAX's persistent
cache keeps them for later processes. The price: a small molecule pays for tiles padded
to full size, and calls cost what one program would not (benchmarks/results/tuning.md).

Mixed precision (`float32_below`): each tile pair's Schwarz bound is known before it is
computed, so the tile pairs whose integrals are all small go to the float32 programs and
the rest to the float64 ones; both write into one float64 packed vector.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables, threads
from dftgen.integrals.eri import (DEFAULT_THRESHOLD, ClassData, TilePlan, _band_pairs_needed,
                                  _eri_jit, _padded_tiles, _pair_ao_index, _plans, class_data_of,
                                  hermite_support, n_packed, primitive_bounds, screened_tile,
                                  screening_order, unpack)
from dftgen.integrals.layout import Layout, PairClass, is_traced, layout_and_arrays, trace_counts
from dftgen.integrals.pairs import by_chunks, max_l, pair_data_of_sides
from dftgen.precision import on_device

#: a class pair's program reads a block of BLOCK tiles of each class, sent to it once
BLOCK = 8
#: tile pairs per call of a class pair's program: a block pair's live ones are cut into
#: calls of this many, so that a sparse block pair (screening) pays for few
CALL_STEPS = 16


@executables.jit(static_argnums=(2, 3))
def _class_chunk(side_a, side_b, kind_a, kind_b) -> tuple[ClassData, jnp.ndarray]:
    """ClassData and `primitive_bounds` (n, pp) of n pairs from both sides' gathered data."""
    trace_counts["eri_class_chunk"] += 1
    l = max_l(kind_a) + max_l(kind_b)
    data = class_data_of(pair_data_of_sides(side_a, side_b, kind_a, kind_b), l)
    return data, primitive_bounds(data, l)


@executables.jit(static_argnums=(7, 8, 9, 10, 11))
def _tile_chunk(bra: ClassData, ket: ClassData, rows, cols, steps, need, dump, lx: int, ly: int,
                bands: tuple, support: tuple, omega: float) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The tile pairs steps (CALL_STEPS, 2) (bra tile, ket tile within the blocks) one after
    another, over the band pairs of need (CALL_STEPS, nbx, nby): their integrals and where
    each goes in the s8-packed vector, both (CALL_STEPS, tx, fab, ty, fcd); dump (past the
    end) where it falls on padding. bra, ket: a block of each class's tiles (BLOCK,
    tx or ty, ...); rows (BLOCK, tx, fab), cols (BLOCK, ty, fcd): their `_tile_pair_index`.
    Of a class paired with itself only the tiles on and below the diagonal are computed,
    and they hold one of (ij|kl) and (kl|ij) for every element."""
    trace_counts["eri_tile_chunk"] += 1

    def step(args):
        i, j, wanted = args
        return screened_tile(jax.tree.map(lambda a: a[i], bra), jax.tree.map(lambda a: a[j], ket),
                             wanted, lx, ly, bands, support, omega)

    values = jax.lax.map(step, (steps[:, 0], steps[:, 1], need))
    ij, kl = rows[steps[:, 0]][:, :, :, None, None], cols[steps[:, 1]][:, None, None, :, :]
    hi, lo = jnp.maximum(ij, kl), jnp.minimum(ij, kl)
    return values, jnp.where(lo >= 0, hi * (hi + 1) // 2 + lo, dump)


def class_data_and_bounds(layout: Layout, cls: PairClass, arrays) -> tuple[ClassData, np.ndarray]:
    """NumPy ClassData of a class and its `primitive_bounds`."""
    return by_chunks(_class_chunk, layout, cls, arrays)


def tile_blocks(data: ClassData, size: int, keep: str) -> list[ClassData]:
    """A class's entries (NumPy) cut into tiles of `size` and blocks of BLOCK tiles (the
    last entry repeated as padding), each block's arrays (BLOCK, size, ...) contiguous NumPy
    ones: a call takes them as they are, cheaper on a CPU than a `device_put` of every leaf
    beforehand; `keep` ("bra" or "ket") names the contraction field that side reads (the
    other is None)."""
    nblock = -(-data.p.shape[0] // (size * BLOCK))
    rows = np.minimum(np.arange(nblock * BLOCK * size), data.p.shape[0] - 1)
    # one padded copy of each field, cut into blocks (views)
    fields = [None if name not in ("p", "centre", keep) else
              a[rows].reshape((nblock, BLOCK, size) + a.shape[1:])
              for name, a in zip(ClassData._fields, data)]
    return [ClassData(*(None if f is None else np.ascontiguousarray(f[k]) for f in fields))
            for k in range(nblock)]


def _index_blocks(index: np.ndarray) -> list:
    """`_tile_pair_index` (ntile, size, nfunc) in blocks of BLOCK tiles (-1 as padding)."""
    pad = -index.shape[0] % BLOCK
    index = np.concatenate([index, np.full((pad,) + index.shape[1:], -1, index.dtype)])
    return list(index.reshape((-1, BLOCK) + index.shape[1:]))


def _tile_pair_index(layout: Layout, cls: PairClass, order: np.ndarray, size: int,
                     ntile: int, dtype) -> np.ndarray:
    """(ntile, size, nfunc): PySCF's pair index i(i+1)/2 + j of each function pair of each
    tile row, the class's pairs taken in `order`; -1 in the padding rows."""
    index = _pair_ao_index(layout, cls)[order].astype(dtype)
    padding = np.full((ntile * size - len(index), index.shape[1]), -1, dtype)
    return np.concatenate([index, padding]).reshape(ntile, size, -1)


def _class_pair_into(packed: np.ndarray, x: ClassData, y: ClassData, ls: tuple[int, int],
                     plan: TilePlan, need: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                     support: tuple, omega: float) -> None:
    """A class pair's integrals written into packed, whose last entry takes what falls on
    padding: the tile pairs with a band pair in need (nstep, nbx, nby), block pair by block
    pair (BLOCK bra tiles x BLOCK ket tiles), CALL_STEPS per call; rows, cols:
    `_tile_pair_index` of both classes. Tile pairs screened out whole are computed by no
    program (packed starts at zero)."""
    bra, ket = tile_blocks(x, plan.tx, "bra"), tile_blocks(y, plan.ty, "ket")
    bra_index, ket_index = _index_blocks(rows), _index_blocks(cols)
    live = np.flatnonzero(need.any(axis=(1, 2)))
    if len(live) == 0:
        return
    block = plan.steps[live] // BLOCK
    live = live[np.lexsort((block[:, 1], block[:, 0]))]  # block pair by block pair
    steps = plan.steps[live]
    cuts = np.flatnonzero(np.any(np.diff(steps // BLOCK, axis=0), axis=1)) + 1
    dump = np.asarray(len(packed) - 1, rows.dtype)
    for group in np.split(np.arange(len(live)), cuts):
        for members in np.array_split(group, -(-len(group) // CALL_STEPS)):
            (bi, bj), n = steps[members[0]] // BLOCK, len(members)
            take = np.resize(members, CALL_STEPS)
            wanted = need[live[take]]
            wanted[n:] = False  # the repeats that fill the call compute nothing
            values, dest = _tile_chunk(bra[bi], ket[bj], bra_index[bi], ket_index[bj],
                                       (steps[take] % BLOCK).astype(np.int32), wanted, dump,
                                       ls[0], ls[1], plan.bands, support, omega)
            packed[np.asarray(dest)[:n].ravel()] = np.asarray(values)[:n].ravel()


def eri_packed_stepwise(layout: Layout, arrays, threshold: float = 0.0,
                        chunk_bytes: int = 4 << 20, omega: float = 0.0,
                        float32_below: float = 0.0) -> np.ndarray:
    """`eri.eri_packed` for concrete arrays (NumPy or JAX; not traced): the same s8-packed
    vector, as a NumPy array, from programs shared by every molecule size (module docstring).
    threshold: 0 for no screening, else Schwarz screening at that threshold.
    float32_below > 0 (float64 arrays, screened): mixed precision, the tile pairs whose
    integrals are all bounded below it (Schwarz) computed in float32, the rest in float64."""
    arrays = type(arrays)(*(np.asarray(a) for a in arrays))
    if float32_below > 0 and not (threshold > 0 and arrays.exponents.dtype == np.float64):
        raise ValueError(f"mixed-precision ERIs (float32_below={float32_below:g}) need float64 "
                         f"arrays and a screening threshold > 0, not {arrays.exponents.dtype} "
                         f"and threshold={threshold:g}")
    classes, plans, _ = _plans(layout, arrays.exponents.dtype.itemsize, chunk_bytes, True)
    ls = [max_l(c.kind_a) + max_l(c.kind_b) for c in classes]
    data, primitive = zip(*threads.map_list(lambda c: class_data_and_bounds(layout, c, arrays),
                                            classes))
    if threshold > 0:
        data, bounds, back = screening_order(list(data), list(primitive), threshold)
        orders = [np.argsort(b) for b in back]
    else:
        orders = [np.arange(len(c.pairs)) for c in classes]
    packed = np.zeros(n_packed(layout.nao) + 1, arrays.exponents.dtype)
    index_dtype = _index_dtype(layout.nao)

    def class_pair(item) -> None:
        """One class pair's tile pairs of one precision: "float32" (mixed precision's small
        ones), "float64" (the rest, or all of them), or "all" (unmixed, the arrays' own)."""
        (x, y), plan, part = item
        if threshold > 0:
            need = _band_pairs_needed((bounds[x], bounds[y]), plan, threshold)
        else:
            need = np.ones((len(plan.steps),) + plan.bands, bool)
        if part != "all":
            small = _tile_pair_bounds((bounds[x], bounds[y]), plan) < float32_below
            need = need & (small if part == "float32" else ~small)[:, None, None]
        ntx, nty = plan.ntiles
        rows = _tile_pair_index(layout, classes[x], orders[x], plan.tx, ntx, index_dtype)
        cols = _tile_pair_index(layout, classes[y], orders[y], plan.ty, nty, index_dtype)
        bra, ket = (data[x], data[y]) if part != "float32" else (_as32(data[x]), _as32(data[y]))
        _class_pair_into(packed, bra, ket, (ls[x], ls[y]), plan, need, rows, cols,
                         hermite_support(classes[y].kind_a, classes[y].kind_b), omega)

    # each writes disjoint entries (and the dump at the end): they run side by side on the
    # cores this process may use, and on a first run compile side by side, largest first
    parts = ("float32", "float64") if float32_below > 0 else ("all",)
    items = sorted(((xy, plan, part) for xy, plan in plans.items() for part in parts),
                   key=lambda item: -len(item[1].steps) * item[1].tx * item[1].ty)
    threads.map_list(class_pair, items)
    return packed[:-1]


def _tile_pair_bounds(bounds, plan: TilePlan) -> np.ndarray:
    """(nstep,): a bound on every integral of each planned tile pair, the product of the
    largest Schwarz bound of a pair in each tile (a pair's: the sum of its bands')."""
    ntx, nty = plan.ntiles
    qx, qy = (q.sum(axis=1) for q in bounds)
    qx = _padded_tiles(qx, plan.tx, ntx).max(axis=1)
    qy = _padded_tiles(qy, plan.ty, nty).max(axis=1)
    return qx[plan.steps[:, 0]] * qy[plan.steps[:, 1]]


def _as32(data: ClassData) -> ClassData:
    return ClassData(*(a.astype(np.float32) for a in data))


def _index_dtype(nao: int):
    """int32 where the packed indices and i (i + 1) of the pair indices fit in it, else
    int64 (which needs JAX's x64)."""
    npair = nao * (nao + 1) // 2
    if npair * (npair + 1) < np.iinfo(np.int32).max:
        return np.int32
    if not jax.config.jax_enable_x64:
        raise ValueError(f"nao={nao}: packed ERI indices overflow int32; enable JAX x64")
    return np.int64


def eri(mol, basis, packed: bool = True, precision: str = "float64",
        threshold: float | None = None, chunk_bytes: int = 4 << 20,
        omega: float = 0.0, float32_below: float = 0.0) -> jnp.ndarray:
    """Electron repulsion integrals (ij|kl) in Hartree, chemists' notation.

    Positions that are JAX tracers (forces, a vmapped batch) go through `eri.eri_packed`,
    one differentiable program per molecule shape; concrete ones through
    `eri_packed_stepwise`, whose programs every molecule size shares. Both give the same
    integrals.

    Args:
        mol: the molecule (positions may be JAX tracers: the result is differentiable).
        basis: a BasisSet or a basis-set name.
        packed: True: the s8-packed vector of n_s8 unique integrals, in the order of PySCF's
            mol.intor("int2e", aosym="s8"); False: the dense (nao, nao, nao, nao) array.
        precision: "float64" or "float32".
        threshold: Schwarz screening threshold (None: 1e-10 in float64, 1e-7 in float32;
            0: no screening). No integral larger than it is dropped.
        chunk_bytes: bound on the intermediates of one tile (see eri.py's docstring).
        omega: 0 for the Coulomb operator 1/r; > 0 (Bohr^-1) for its long-range part
            erf(omega r)/r, as PySCF's mol.with_range_coulomb(omega) (range-separated
            hybrids).
        float32_below: > 0 (float64, concrete positions): mixed precision, tile pairs whose
            integrals are all bounded below it computed in float32 (`eri_packed_stepwise`).
    """
    layout, arrays = layout_and_arrays(mol, basis, precision)
    if threshold is None:
        threshold = DEFAULT_THRESHOLD[precision]
    if not is_traced(arrays):
        out = on_device(eri_packed_stepwise(layout, arrays, float(threshold), int(chunk_bytes),
                                              float(omega), float(float32_below)))
        return out if packed else unpack(out, layout.nao)
    if float32_below > 0:
        raise ValueError("mixed-precision ERIs need concrete positions (not traced ones)")
    # the threshold's value is traced: one program serves every positive threshold
    return _eri_jit(layout, arrays, jnp.asarray(threshold, arrays.exponents.dtype), threshold > 0,
                    int(chunk_bytes), bool(packed), float(omega))
