"""Electron repulsion integrals (ij|kl) over contracted Gaussians (spherical or Cartesian),
s to f shells.

Algorithm: McMurchie-Davidson with precomputed primitive-pair data.

    (ab|cd) = sum_{prims} 2 pi^(5/2) / (p q sqrt(p+q))
              sum_{tuv} E^{ab}_{tuv} sum_{t'u'v'} (-1)^{t'+u'+v'} E^{cd}_{t'u'v'} R_{t+t',u+u',v+v'}(alpha, P-Q)

Why this one: every step is a dense array operation. The Hermite coefficients E of a pair
(with contraction coefficients, 1/p and the map to the AOs folded in) are
computed once per primitive pair (pairs.py) and kept in memory; for a tile of bra pairs x a
tile of ket pairs of two pair classes there is then one Boys evaluation and one R recursion
per primitive quartet, and two contractions: the ket side over its primitives and Hermite
index (for most classes unrolled over the Hermite coefficients that can be non-zero; for
the largest a gather R_{h+h'} and a batched matrix product), then the bra side (a batched
matrix product). That maps onto SIMD units and GPUs without per-quartet branching, unlike
Rys quadrature (root finding) or Head-Gordon-Pople (recursions whose shape changes with the
angular class). Shells of one atom sharing exponents (STO-3G's 2s/2p) are one group
(layout.py), so their primitive quartets are evaluated once for all of their functions.

What made it fast on CPU, where the work is bound by memory traffic rather than flops:
  * the Boys values and R are materialised (`optimization_barrier`) instead of being refolded
    by XLA into every gathered element (and an R entry is then computed once, so in float32
    every use sees one rounding);
  * class pairs are oriented so that the pair class with more Hermite x function products is
    on the bra, whose contraction is amortised over the ket primitives;
  * a class paired with itself is cut into square tiles and only the tiles on and below the
    diagonal are computed (the 8-fold symmetry ij >= kl), not the whole square;
  * each class pair's block is gathered from its tiles in pair order (indices fused into
    the gather), and the packed vector from the blocks with a static index map (gathers,
    not scatters, which XLA:CPU runs serially).

Storage: the unique integrals packed as PySCF's `aosym="s8"`: pair index ij = i(i+1)/2 + j
(i >= j), element ij(ij+1)/2 + kl (ij >= kl); `packed=False` unpacks to (nao,)*4.

Working memory (`memory_bound`): the packed vector (n_s8 = npair(npair+1)/2, npair =
nao(nao+1)/2); the tiles of every class pair, the blocks in pair order they are gathered
into and the blocks' concatenation, from which the packed vector is gathered (a few times
n_s8); the primitive-pair data (small); and for the band pair being computed its
intermediates, at most `chunk_bytes` (default 4 MiB, which keeps them near the caches;
lax.map runs the tiles one after another, and a tile its band pairs). Tiles hold at most
TILE x 2 TILE pairs.

Schwarz screening: |(ij|kl)| <= Q_ij Q_kl with Q_ij = max |(ij|ij)|^(1/2), applied to bands
of primitive pairs. Each pair's primitive pairs are sorted by their own bound and cut into
bands (`_n_bands`; STO-3G: 9 primitive pairs, 9 bands of one), each bounded by the sum of its
primitive pairs' bounds (the norm of a sum is at most the sum of the norms); within
a tile pair, a band pair whose largest product of bounds is below threshold / (nbands_x
nbands_y) is not computed, so that what is left out of any integral adds up to less than the
threshold. Within each class the pairs are sorted by how many of their bands matter, then by
their bounds (a traced permutation, undone on the assembled blocks), so that tiles hold alike
pairs: at 10 heavy atoms in STO-3G this leaves 19% of the (ss|ss) band pairs and 30-72% of
the others. A tile pair with no band pair left is skipped whole. `skipped_fraction` says
how much of the unscreened work a molecule's screening leaves out.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals import triangle
from dftgen.integrals.hermite import coulomb_hermite_terms, hermite_tuples
from dftgen.integrals.layout import (BasisArrays, Kind, Layout, PairClass, angular,
                                     layout_and_arrays, trace_counts)
from dftgen.integrals.pairs import PairData, max_l, pair_data
from dftgen.precision import dtype as precision_dtype

DEFAULT_THRESHOLD = {"float64": 1e-10, "float32": 1e-7}
PREFACTOR = 2.0 * math.pi**2.5
#: a class paired with itself is cut into at least this many tiles per side, so that the
#: computed upper halves of diagonal tiles add at most 1/MIN_TILES to its work
MIN_TILES = 6
#: pairs per tile side: squarer tiles than the caches alone would allow, so that both sides
#: screen finely and the batched products are not thin
TILE = 8
#: with screening, each pair's primitive pairs are cut into at most this many bands
#: (`_n_bands`): finer bands let fewer quartets survive
MAX_BANDS = 9
#: at most this many where the ket contraction is a batched product (`_class_pair_bands`):
#: each band pair is then some 50 separate XLA:CPU operations
COARSE_BANDS = 3
#: class pairs whose ket contraction takes at most this many products per primitive quartet
#: (nhx x the ket's non-zero Hermite coefficients, `hermite_support`) contract it
#: elementwise (`_contract_ket_elementwise`), the others by a batched matrix product; for
#: STO-3G this takes every class but (sp sp|sp sp), for which elementwise is no faster and
#: slower to compile
ELEMENTWISE_KET = 80


def n_packed(nao: int) -> int:
    npair = nao * (nao + 1) // 2
    return npair * (npair + 1) // 2


@functools.lru_cache(maxsize=None)
def _hermite_sum_index(lx: int, ly: int) -> np.ndarray:
    """(nh_x, nh_y) index into hermite_tuples(lx + ly) of the sum of two Hermite tuples."""
    where = {tuv: k for k, tuv in enumerate(hermite_tuples(lx + ly))}
    return np.array([[where[(t + a, u + b, v + c)] for (a, b, c) in hermite_tuples(ly)]
                     for (t, u, v) in hermite_tuples(lx)], dtype=np.int32)


@functools.lru_cache(maxsize=None)
def _hermite_sign(l: int) -> np.ndarray:
    return np.array([(-1.0) ** sum(tuv) for tuv in hermite_tuples(l)])


class ClassData(NamedTuple):
    """Primitive-pair data of one pair class, laid out for the two contractions.

    p: (npair, pp) exponents; centre: (npair, pp, 3);
    bra: (npair, f, pp * nh) E / p;  ket: (npair, pp * nh, f) E (-1)^(t+u+v) / p.
    """

    p: jnp.ndarray
    centre: jnp.ndarray
    bra: jnp.ndarray
    ket: jnp.ndarray


def _class_order(layout: Layout) -> tuple[PairClass, ...]:
    """Unique pair classes, cheapest first: x >= y then puts the costlier class on the bra."""
    def cost(cls):
        l = max_l(cls.kind_a) + max_l(cls.kind_b)
        return (len(hermite_tuples(l)) * cls.kind_a.nfunc * cls.kind_b.nfunc,
                cls.kind_a.nprim * cls.kind_b.nprim)
    return tuple(sorted(layout.pair_classes(unique=True, pad=True), key=cost))


def _class_data(layout: Layout, cls: PairClass, arrays: BasisArrays) -> ClassData:
    return class_data_of(pair_data(layout, cls, arrays), max_l(cls.kind_a) + max_l(cls.kind_b))


def class_data_of(pd: PairData, l: int) -> ClassData:
    """A class's ClassData from its PairData; l = la + lb."""
    npair, pp, nh, f = pd.e.shape
    e = pd.e / pd.p[:, :, None, None]
    sign = _hermite_sign(l).astype(e.dtype)[:, None]
    return ClassData(
        p=pd.p, centre=pd.centre,
        bra=jnp.transpose(e, (0, 3, 1, 2)).reshape(npair, f, pp * nh),
        ket=(e * sign).reshape(npair, pp * nh, f),
    )


@functools.lru_cache(maxsize=None)
def hermite_support(kind_a: Kind, kind_b: Kind) -> tuple[tuple[int, int], ...]:
    """The (h, f) of a pair class whose Hermite coefficient E[h, f] can be non-zero, in the
    order of ClassData's axes: Hermite tuple h = (t, u, v) of hermite_tuples(la + lb) and
    function product f = (m, n). Along x, E^{ij}_t vanishes for t > i + j, so E[h, f] is
    zero unless some pair of Cartesian components (i, j) of m and n has h <= i + j on every
    axis. For an (sp, sp) pair 46 of the 160 entries can be non-zero."""
    pa, _, sa = angular(kind_a.ls, kind_a.cartesian)
    pb, _, sb = angular(kind_b.ls, kind_b.cartesian)
    reach = [[[pa[i] + pb[j] for i in np.flatnonzero(sa[:, m]) for j in np.flatnonzero(sb[:, n])]
              for n in range(sb.shape[1])] for m in range(sa.shape[1])]
    return tuple((k, m * sb.shape[1] + n)
                 for k, h in enumerate(hermite_tuples(max_l(kind_a) + max_l(kind_b)))
                 for m in range(sa.shape[1]) for n in range(sb.shape[1])
                 if any(np.all(np.array(h) <= top) for top in reach[m][n]))


def _ket_contracted(bra: ClassData, ket: ClassData, lx: int, ly: int,
                    support: tuple | None = None, omega: float = 0.0) -> jnp.ndarray:
    """R_{h+h'} of every primitive quartet contracted with the ket's E: (ty, tx, ppx nhx, fcd).

    Only bra.p and bra.centre are read: the bra's E is applied afterwards (`_bra_contracted`).
    support: the ket class's `hermite_support`; given, a ket of at most ELEMENTWISE_KET
    products per quartet is contracted elementwise over it. omega > 0: the operator is
    erf(omega r)/r, which is the Coulomb one with pq/(p+q) replaced by
    alpha' = alpha omega^2 / (alpha + omega^2) and the prefactor times sqrt(alpha'/alpha)
    (1/alpha' = 1/alpha + 1/omega^2).
    """
    tx, ppx = bra.p.shape
    ty, ppy = ket.p.shape
    fcd = ket.ket.shape[2]
    index = _hermite_sum_index(lx, ly)
    nhx, nhy = index.shape
    # quartets laid out (ket pair, bra pair, bra primitive, ket primitive), flattened and
    # materialised so that the Boys function and R run over one long vectorisable axis
    p = bra.p[None, :, :, None]
    q = ket.p[:, None, None, :]
    r = tuple(bra.centre[None, :, :, None, d] - ket.centre[:, None, None, :, d] for d in range(3))
    alpha, scale = p * q / (p + q), PREFACTOR / jnp.sqrt(p + q)
    if omega:
        attenuation = omega**2 / (alpha + omega**2)
        alpha, scale = alpha * attenuation, scale * jnp.sqrt(attenuation)
    alpha, scale, rx, ry, rz = jax.lax.optimization_barrier(tuple(
        jnp.broadcast_to(v, (ty, tx, ppx, ppy)).reshape(-1) for v in (alpha, scale) + r))
    herm = coulomb_hermite_terms(lx + ly, alpha, jnp.stack([rx, ry, rz]), scale)
    if _ket_is_elementwise(nhx, support):
        return _contract_ket_elementwise(herm.reshape(-1, ty, tx, ppx, ppy), ket.ket, index, support)
    gathered = herm[index].reshape(nhx, nhy, ty, tx, ppx, ppy)
    gathered = jnp.transpose(gathered, (2, 3, 4, 0, 5, 1))  # (ty, tx, ppx, nhx, ppy, nhy)
    ket_done = jnp.matmul(gathered.reshape(ty, tx * ppx * nhx, ppy * nhy), ket.ket)
    return ket_done.reshape(ty, tx, ppx * nhx, fcd)


def _ket_is_elementwise(nhx: int, support: tuple | None) -> bool:
    """Whether a bra of nhx Hermite tuples and a ket class of that `hermite_support` (None:
    unknown) have their ket contracted elementwise (at most ELEMENTWISE_KET products per
    primitive quartet) rather than by a batched product."""
    return support is not None and nhx * len(support) <= ELEMENTWISE_KET


def _contract_ket_elementwise(herm: jnp.ndarray, ket_e: jnp.ndarray, index: np.ndarray,
                     support: tuple) -> jnp.ndarray:
    """The ket contraction of `_ket_contracted` as unrolled products over the ket's non-zero
    Hermite coefficients only (support, `hermite_support`), summed over the ket primitives:
    no gather of R, no transposition, and none of the zeros a batched product multiplies
    (of an (sp, s) ket's 16 coefficients 7 are non-zero), whose K = ppy nhy and N = fcd
    are a few long.

    herm: (nh, ty, tx, ppx, ppy) R of every quartet; ket_e: (ty, ppy nhy, fcd).
    Returns (ty, tx, ppx nhx, fcd)."""
    nh, ty, tx, ppx, ppy = herm.shape
    nhx, nhy = index.shape
    fcd = ket_e.shape[2]
    e = ket_e.reshape(ty, 1, 1, ppy, nhy, fcd)
    terms = {f: [b for b, g in support if g == f] for f in range(fcd)}
    out = [sum(herm[index[a, b]] * e[..., b, f] for b in terms[f]).sum(axis=-1)
           for a in range(nhx) for f in range(fcd)]
    return jnp.stack(out, axis=-1).reshape(ty, tx, ppx * nhx, fcd)


def _bra_contracted(bra: ClassData, ket_done: jnp.ndarray) -> jnp.ndarray:
    """(tx, fab, ty, fcd) from the ket-contracted quartets (ty, tx, ppx nhx, fcd)."""
    ty, tx, _, fcd = ket_done.shape
    fab = bra.bra.shape[1]
    ket_done = jnp.transpose(ket_done, (1, 2, 0, 3))
    out = jnp.matmul(bra.bra, ket_done.reshape(tx, -1, ty * fcd))
    return out.reshape(tx, fab, ty, fcd)


def _tile_block(bra: ClassData, ket: ClassData, lx: int, ly: int) -> jnp.ndarray:
    """Integrals between a tile of bra pairs and a tile of ket pairs: (tx, fab, ty, fcd)."""
    return _bra_contracted(bra, _ket_contracted(bra, ket, lx, ly))


def _band(data: ClassData, band: jnp.ndarray, nband: int) -> ClassData:
    """Primitive pairs [band * b, (band + 1) * b) of every pair of a tile, b = pp / nband
    (a bra side may come without its ket field, None)."""
    def take(a):
        size = a.shape[1] // nband
        return jax.lax.dynamic_slice_in_dim(a, band * size, size, axis=1)

    return ClassData(p=take(data.p), centre=take(data.centre), bra=data.bra,
                     ket=None if data.ket is None else take(data.ket))


def _banded_tile_block(bra: ClassData, ket: ClassData, lx: int, ly: int, bands: tuple[int, int],
                       need: jnp.ndarray | None, support: tuple | None = None,
                       omega: float = 0.0) -> jnp.ndarray:
    """`_tile_block` band pair by band pair (bands = (nbx, nby), `_class_pair_bands`), over
    those with need[i, j] (nbx, nby) only, the others reading zero; need None: all of them.

    The band pairs run one after another through one compiled body (a loop, not unrolled:
    compile time stays that of one band pair), so a tile's intermediates are those of one."""
    nbx, nby = bands
    nhx = bra.bra.shape[2] // bra.p.shape[1]
    width = bra.p.shape[1] // nbx * nhx  # a bra band's share of the ppx nhx axis

    def add(k, acc):
        i, j = k // nby, k % nby

        def contribution():
            part = _ket_contracted(_band(bra, i, nbx), _band(ket, j, nby), lx, ly, support, omega)
            now = jax.lax.dynamic_slice_in_dim(acc, i * width, width, axis=2)
            return jax.lax.dynamic_update_slice_in_dim(acc, now + part, i * width, axis=2)

        if need is None:
            return contribution()
        return jax.lax.cond(need[i, j], contribution, lambda: acc)

    ty, tx = ket.p.shape[0], bra.p.shape[0]
    start = jnp.zeros((ty, tx, nbx * width, ket.ket.shape[2]), bra.p.dtype)
    return _bra_contracted(bra, jax.lax.fori_loop(0, nbx * nby, add, start))


def _class_pair_bands(ppx: int, ppy: int, nhx: int, support: tuple | None) -> tuple[int, int]:
    """Bands of each side of a class pair (primitive pairs ppx, ppy; the bra's nhx Hermite
    tuples; the ket's `hermite_support`): `_n_bands` of each; where the ket is contracted
    by a batched product rather than elementwise (`_ket_contracted`), at most COARSE_BANDS,
    as each band pair then runs as some 50 separate XLA:CPU operations (elementwise, XLA:CPU
    compiles a tile's loop over band pairs into one)."""
    bands = _n_bands(ppx), _n_bands(ppy)
    if _ket_is_elementwise(nhx, support):
        return bands
    return tuple(_largest_divisor(nb, COARSE_BANDS) for nb in bands)


def _schwarz(data: ClassData, l: int) -> jnp.ndarray:
    """Q (npair,): sqrt of the largest diagonal integral (ab|ab) of each pair."""
    def one(pair):
        tile = ClassData(*(x[None] for x in pair))
        block = _tile_block(tile, tile, l, l)[0, :, 0, :]
        return jnp.sqrt(jnp.max(jnp.abs(jnp.diagonal(block))))
    return jax.vmap(one)(data)


def _n_bands(pp: int) -> int:
    """Bands a pair's pp primitive pairs are cut into for screening: the largest divisor of
    pp up to MAX_BANDS (STO-3G: 9 primitive pairs, 9 bands of one; 6-31G*'s 6 x 6: 9 of 4)."""
    return _largest_divisor(pp, MAX_BANDS)


def _largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of n (>= 1) that is at most at_most."""
    return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)


def _split(data: ClassData, nband: int) -> ClassData:
    """(npair, ...) -> (npair nband, ...): each band of consecutive primitive pairs as a pair."""
    npair, pp = data.p.shape
    nh = data.ket.shape[1] // pp
    fab, fcd = data.bra.shape[1], data.ket.shape[2]
    b = pp // nband
    bra = data.bra.reshape(npair, fab, nband, b * nh).transpose(0, 2, 1, 3)
    return ClassData(p=data.p.reshape(npair * nband, b),
                     centre=data.centre.reshape(npair * nband, b, 3),
                     bra=bra.reshape(npair * nband, fab, b * nh),
                     ket=data.ket.reshape(npair * nband, b * nh, fcd))


def primitive_bounds(data: ClassData, l: int) -> jnp.ndarray:
    """(npair, pp): the Schwarz bound of each primitive pair of each pair on its own."""
    npair, pp = data.p.shape
    return _schwarz(_split(data, pp), l).reshape(npair, pp)


def _sorted_bands(data: ClassData, q) -> tuple[ClassData, jnp.ndarray]:
    """Each pair's primitive pairs sorted by their own Schwarz bound q (`primitive_bounds`),
    largest first, and a bound for each band of them, (npair, nband): the sum of its
    primitive pairs' bounds. NumPy or JAX arrays, as given.

    Sorted, a pair's weak primitive pairs (a tight exponent on one atom with anything on
    another) share its last bands, which the screening then skips: in STO-3G at 10 heavy
    atoms only ~30% of the primitive quartets reach 1e-12.
    """
    xp = _array_module(q)
    npair, pp = data.p.shape
    order = xp.argsort(-q, axis=1, stable=True)
    nh = data.ket.shape[1] // pp
    fab, fcd = data.bra.shape[1], data.ket.shape[2]
    bra = xp.take_along_axis(data.bra.reshape(npair, fab, pp, nh), order[:, None, :, None], axis=2)
    ket = xp.take_along_axis(data.ket.reshape(npair, pp, nh, fcd), order[:, :, None, None], axis=1)
    data = ClassData(p=xp.take_along_axis(data.p, order, axis=1),
                     centre=xp.take_along_axis(data.centre, order[:, :, None], axis=1),
                     bra=bra.reshape(npair, fab, pp * nh), ket=ket.reshape(npair, pp * nh, fcd))
    # a band's product function is the sum of its primitive pairs', so its norm is at most
    # the sum of theirs (triangle inequality)
    q = xp.take_along_axis(q, order, axis=1)
    return data, q.reshape(npair, _n_bands(pp), -1).sum(axis=2)


def _array_module(x):
    """numpy for a NumPy array, jax.numpy for a JAX one (traced or not)."""
    return np if isinstance(x, np.ndarray) else jnp


class TilePlan(NamedTuple):
    """How the pairs of a class pair are cut: tx bra pairs x ty ket pairs per step, and the
    primitive pairs of each side into bands (`_class_pair_bands`)."""

    tx: int
    ty: int
    steps: np.ndarray  # (nstep, 2) bra tile, ket tile
    bands: tuple[int, int]

    @property
    def ntiles(self) -> tuple[int, int]:
        """Tiles of the bra class and of the ket class."""
        return int(self.steps[:, 0].max()) + 1, int(self.steps[:, 1].max()) + 1


def _tile_plan(nx: int, ny: int, pair_bytes: int, chunk_bytes: int, diagonal: bool,
               bands: tuple[int, int], fixed: bool = False) -> TilePlan:
    """Tiles of at most TILE bra pairs x 2 TILE ket pairs (a class with itself: TILE x TILE),
    fewer where one band pair's intermediates would pass chunk_bytes; fixed=False also cuts
    them to the classes' sizes (least padding), fixed=True keeps sizes that do not depend
    on them (one program for every molecule size, at the price of padding small classes)."""
    budget = max(1, chunk_bytes // pair_bytes)  # pair x pair products per step
    if diagonal:
        t = max(1, min(TILE, math.isqrt(budget)))
        if not fixed:
            t = min(t, -(-nx // MIN_TILES))
            t = -(-nx // -(-nx // t))
        n = -(-nx // t)
        steps = [(i, j) for i in range(n) for j in range(i + 1)]
        return TilePlan(t, t, np.array(steps), bands)
    ty = min(2 * TILE, budget) if fixed else min(ny, 2 * TILE, budget)
    tx = min(TILE, max(1, budget // ty)) if fixed else min(nx, TILE, max(1, budget // ty))
    nty, ntx = -(-ny // ty), -(-nx // tx)
    if not fixed:
        ty, tx = -(-ny // nty), -(-nx // ntx)
    return TilePlan(tx, ty, np.array([(i, j) for i in range(ntx) for j in range(nty)]), bands)


def _pair_bytes(x: tuple, y: tuple, itemsize: int, bands: tuple[int, int]) -> int:
    """Bytes of intermediates per (bra pair, ket pair) of one band pair, for classes of
    shape (l, pp, nfunc): the quartets' arguments and Boys values, every level of R,
    R_{h+h'} gathered and transposed, the ket-contracted products; and the pair pair's
    share of the accumulated ket contraction and of the tile."""
    (lx, ppx, fab), (ly, ppy, fcd) = x, y
    nhx, nhy = len(hermite_tuples(lx)), len(hermite_tuples(ly))
    per_quartet = 3 * nhx * nhy + 3 * len(hermite_tuples(lx + ly)) + 3 * (lx + ly) + 12
    quartets = (ppx // bands[0]) * (ppy // bands[1])
    return (quartets * per_quartet + ppx * nhx * fcd + fab * fcd) * itemsize


def _pair_ao_index(layout: Layout, cls: PairClass) -> np.ndarray:
    """(npair, nfunc_a * nfunc_b) PySCF pair index i(i+1)/2 + j of each function pair."""
    aa = np.array([layout.groups[a].aos for a, _ in cls.pairs])[:, :, None]
    bb = np.array([layout.groups[b].aos for _, b in cls.pairs])[:, None, :]
    hi, lo = np.maximum(aa, bb), np.minimum(aa, bb)
    return (hi * (hi + 1) // 2 + lo).reshape(len(cls.pairs), -1)


def _padded_tiles(x, size: int, ntile: int):
    """(n, ...) -> (ntile, size, ...), the last entry repeated as padding (NumPy or JAX)."""
    if ntile * size != x.shape[0]:
        x = x[np.minimum(np.arange(ntile * size), x.shape[0] - 1)]
    return x.reshape((ntile, size) + x.shape[1:])


def _class_pair_tiles(x: ClassData, y: ClassData, lx: int, ly: int, plan: TilePlan,
                      bounds=None, threshold=0.0, support: tuple | None = None,
                      omega: float = 0.0) -> jnp.ndarray:
    """All planned tiles of a class pair: (nstep, tx, fab, ty, fcd).

    bounds: None (compute every primitive quartet), or the band bounds of both classes,
    (npair_x, nbx) and (npair_y, nby), summed here into the class pair's own bands
    (plan.bands): a band pair whose largest product in a tile pair stays below
    threshold / (nbx nby) is skipped, so that the skipped part of any integral adds up to
    less than the threshold; a tile pair with nothing left is skipped whole.
    """
    bra, ket = class_tiles(x, y, plan)
    i, j = plan.steps[:, 0], plan.steps[:, 1]

    if bounds is None:
        def step(args):
            b = ClassData(*(a[args[0]] for a in bra))
            k = ClassData(*(a[args[1]] for a in ket))
            return _banded_tile_block(b, k, lx, ly, plan.bands, None, support, omega)
        return jax.lax.map(jax.checkpoint(step), (jnp.asarray(i), jnp.asarray(j)))

    def screened_step(args):
        i, j, need = args
        return screened_tile(ClassData(*(a[i] for a in bra)), ClassData(*(a[j] for a in ket)),
                             need, lx, ly, plan.bands, support, omega)

    need = _band_pairs_needed(bounds, plan, threshold)
    return jax.lax.map(jax.checkpoint(screened_step), (jnp.asarray(i), jnp.asarray(j), need))


def class_tiles(x: ClassData, y: ClassData, plan: TilePlan) -> tuple[ClassData, ClassData]:
    """Both classes cut into the plan's tiles, (ntile, tx or ty, ...) each (NumPy or JAX)."""
    ntx, nty = plan.ntiles
    return (ClassData(*(_padded_tiles(a, plan.tx, ntx) for a in x)),
            ClassData(*(_padded_tiles(a, plan.ty, nty) for a in y)))


def screened_tile(bra: ClassData, ket: ClassData, need: jnp.ndarray, lx: int, ly: int,
                  bands: tuple[int, int], support: tuple | None, omega: float) -> jnp.ndarray:
    """One tile pair (tx, fab, ty, fcd) over the band pairs of need (nbx, nby); zero
    without computing anything where no band pair is needed."""
    tx, fab, ty, fcd = bra.p.shape[0], bra.bra.shape[1], ket.p.shape[0], ket.ket.shape[2]
    return jax.lax.cond(jnp.any(need),
                        lambda: _banded_tile_block(bra, ket, lx, ly, bands, need, support, omega),
                        lambda: jnp.zeros((tx, fab, ty, fcd), bra.p.dtype))


def _band_pairs_needed(bounds, plan: TilePlan, threshold) -> jnp.ndarray:
    """(nstep, nbx, nby): whether each band pair of each planned tile pair is computed, i.e.
    its largest product of bounds reaches threshold / (nbx nby). bounds: the band bounds of
    both classes, (npair_x, nb) and (npair_y, nb), summed here into plan.bands."""
    ntx, nty = plan.ntiles
    i, j = plan.steps[:, 0], plan.steps[:, 1]
    # a coarser band's bound: the sum of its finer bands' (consecutive primitive pairs)
    qx, qy = (q.reshape(q.shape[0], nb, -1).sum(axis=2) for q, nb in zip(bounds, plan.bands))
    qx = _padded_tiles(qx, plan.tx, ntx).max(axis=1)  # (ntx, nbx)
    qy = _padded_tiles(qy, plan.ty, nty).max(axis=1)
    return qx[i][:, :, None] * qy[j][:, None, :] >= threshold / (qx.shape[1] * qy.shape[1])


def _pair_order_block(tiles: jnp.ndarray, plan: TilePlan, diagonal: bool, position_x,
                      position_y) -> jnp.ndarray:
    """A class pair's tiles (nstep, tx, fab, ty, fcd) as one block (npair_x, fab, npair_y, fcd)
    in pair order, by one gather; position_x[a] is where pair a sits in the tiles' order.

    A class paired with itself has only its tiles on and below the diagonal computed: an
    element whose tile lies above is read from the mirror tile ((ab|cd) = (cd|ab)). The
    indices are outer sums of per-pair and per-function terms, which XLA fuses into the
    gather: nothing of the block's size is written but the block itself.
    """
    nstep, tx, fab, ty, fcd = tiles.shape
    xp = _array_module(tiles)
    index_dtype = np.int32 if tiles.size < np.iinfo(np.int32).max else np.int64
    if xp is jnp and index_dtype == np.int64 and not jax.config.jax_enable_x64:
        raise ValueError(f"ERI tiles of {tiles.size} elements overflow int32 indices; "
                         "enable JAX x64")
    u, v = (xp.asarray(w, index_dtype) for w in (position_x, position_y))
    tile = tx * fab * ty * fcd
    iu, wu, jv, wv = u // tx, u % tx, v // ty, v % ty
    f1 = xp.arange(fab, dtype=index_dtype)[None, :, None, None]
    f2 = xp.arange(fcd, dtype=index_dtype)[None, None, None, :]

    def row(w):
        return w[:, None, None, None]

    def col(w):
        return w[None, None, :, None]

    if not diagonal:
        nty = plan.ntiles[1]
        index = (row(iu * (nty * tile) + wu * (fab * ty * fcd)) + f1 * (ty * fcd)
                 + col(jv * tile + wv * fcd) + f2)
    else:  # steps (i, j), j <= i, in row order: step i(i+1)/2 + j
        direct = (row(iu * (iu + 1) // 2 * tile + wu * (fab * ty * fcd)) + f1 * (ty * fcd)
                  + col(jv * tile + wv * fcd) + f2)
        mirror = (col(jv * (jv + 1) // 2 * tile + wv * (fab * ty * fcd)) + f2 * (ty * fcd)
                  + row(iu * tile + wu * fcd) + f1)
        index = xp.where(row(iu) >= col(jv), direct, mirror)
    return tiles.reshape(-1)[index]


def _gather_map(layout: Layout, classes, plans) -> np.ndarray:
    """For each packed element, its position in the concatenated blocks (npair_x, fab,
    npair_y, fcd) of the class pairs, pairs in class order (static)."""
    source = np.full(n_packed(layout.nao), -1, dtype=np.int64)
    offset = 0
    for x, y in plans:
        ij = _pair_ao_index(layout, classes[x])[:, :, None, None]
        kl = _pair_ao_index(layout, classes[y])[None, None]
        hi, lo = np.maximum(ij, kl), np.minimum(ij, kl)
        dest = (hi * (hi + 1) // 2 + lo).ravel()
        source[dest] = offset + np.arange(dest.size)
        offset += dest.size
    if np.any(source < 0):
        raise AssertionError("ERI tiling left packed elements uncovered")  # a bug, never data
    return source


@functools.lru_cache(maxsize=64)
def _plans(layout: Layout, itemsize: int, chunk_bytes: int, fixed: bool = False):
    """Static plan of a layout: classes (cheapest first), tile plans per class pair (x >= y;
    `_tile_plan`'s fixed), and the gather map from the class pairs' blocks to the packed
    vector (None where fixed: `eri_stepwise` scatters its tiles instead)."""
    classes = _class_order(layout)
    shapes = [(max_l(c.kind_a) + max_l(c.kind_b), c.kind_a.nprim * c.kind_b.nprim,
               len(layout.groups[c.pairs[0][0]].aos) * len(layout.groups[c.pairs[0][1]].aos))
              for c in classes]
    plans = {}
    for x in range(len(classes)):
        for y in range(x + 1):
            support = hermite_support(classes[y].kind_a, classes[y].kind_b)
            bands = _class_pair_bands(shapes[x][1], shapes[y][1], len(hermite_tuples(shapes[x][0])), support)
            per = _pair_bytes(shapes[x], shapes[y], itemsize, bands)
            plans[x, y] = _tile_plan(len(classes[x].pairs), len(classes[y].pairs), per, chunk_bytes,
                                     x == y, bands, fixed)
    return classes, plans, None if fixed else _gather_map(layout, classes, plans)


def memory_bound(layout: Layout, precision: str = "float64", chunk_bytes: int = 4 << 20) -> int:
    """Bytes of working memory eri_packed needs beyond its inputs (see the module docstring):
    the packed vector, every tile, each class pair's block in pair order and their
    concatenation, and two band pairs' intermediates."""
    itemsize = jnp.dtype(precision_dtype(precision)).itemsize
    classes, plans, source = _plans(layout, itemsize, chunk_bytes)
    nfunc = [len(layout.groups[c.pairs[0][0]].aos) * len(layout.groups[c.pairs[0][1]].aos) for c in classes]
    total = source.size
    for (x, y), p in plans.items():
        total += len(p.steps) * p.tx * p.ty * nfunc[x] * nfunc[y]
        total += 2 * len(classes[x].pairs) * len(classes[y].pairs) * nfunc[x] * nfunc[y]
    return total * itemsize + 2 * chunk_bytes


def eri_packed(layout: Layout, arrays: BasisArrays, threshold: float = 0.0,
               chunk_bytes: int = 4 << 20, omega: float = 0.0) -> jnp.ndarray:
    """The s8-packed ERI vector from traced arrays (pure; vmappable). threshold: 0 (a Python
    number) for no screening, else Schwarz screening at that threshold (may be traced).
    omega > 0: integrals of erf(omega r)/r, bounded by the Coulomb ones' Schwarz bounds (its
    Fourier transform is the Coulomb one's times exp(-k^2 / 4 omega^2) <= 1)."""
    trace_counts["eri"] += 1
    itemsize = jnp.dtype(arrays.exponents.dtype).itemsize
    classes, plans, source = _plans(layout, itemsize, chunk_bytes)
    ls = [max_l(c.kind_a) + max_l(c.kind_b) for c in classes]
    data = [_class_data(layout, cls, arrays) for cls in classes]
    screen = not (isinstance(threshold, (int, float)) and threshold == 0)
    if screen:
        data, bounds, back = _screening_order(data, ls, threshold)
    blocks = []
    for (x, y), plan in plans.items():
        skip = (bounds[x], bounds[y]) if screen else None
        support = hermite_support(classes[y].kind_a, classes[y].kind_b)
        tiles = _class_pair_tiles(data[x], data[y], ls[x], ls[y], plan, skip, threshold, support,
                                  omega)
        if screen:
            position_x, position_y = back[x], back[y]
        else:
            position_x, position_y = np.arange(len(classes[x].pairs)), np.arange(len(classes[y].pairs))
        blocks.append(_pair_order_block(tiles, plan, x == y, position_x, position_y))
    # materialised as gathered: raveled first, XLA:CPU writes out the indices and copies
    # the blocks
    blocks = jax.lax.optimization_barrier(blocks)
    return jnp.concatenate([b.ravel() for b in blocks])[source]


def _screening_order(data, ls, threshold):
    """Each class's primitive pairs sorted into bands (`_sorted_bands`), and its pairs sorted
    so that those with equally many significant bands share tiles, within those by their
    bounds: (data, band bounds, the permutation back to pair order), one of each per class;
    the blocks are put back in pair order before the gather."""
    bounds = [jax.lax.stop_gradient(primitive_bounds(d, l)) for d, l in zip(data, ls)]
    return screening_order(data, bounds, threshold)


def screening_order(data, primitive: list, threshold):
    """`_screening_order` from each class's `primitive_bounds` (NumPy or JAX arrays)."""
    xp = _array_module(primitive[0])
    data, bounds = zip(*(_sorted_bands(d, q) for d, q in zip(data, primitive)))
    largest = xp.max(xp.stack([q.max() for q in bounds]))
    order = []
    for q in bounds:
        total = q.sum(axis=1)
        significant = (q * largest >= threshold / (q.shape[1] * MAX_BANDS)).sum(axis=1)
        scale = xp.maximum(2 * total.max(), xp.finfo(total.dtype).tiny)
        order.append(xp.argsort(-(significant + total / scale), stable=True))
    data = [ClassData(*(a[o] for a in d)) for d, o in zip(data, order)]
    bounds = [q[o] for q, o in zip(bounds, order)]
    return data, bounds, [xp.argsort(o, stable=True) for o in order]


@executables.jit(static_argnums=(0, 3))
def _needed_per_class_pair(layout, arrays, threshold, chunk_bytes):
    """`_band_pairs_needed` of every class pair of `_plans`, in its order."""
    classes, plans, _ = _plans(layout, jnp.dtype(arrays.exponents.dtype).itemsize, chunk_bytes)
    ls = [max_l(c.kind_a) + max_l(c.kind_b) for c in classes]
    _, bounds, _ = _screening_order([_class_data(layout, c, arrays) for c in classes], ls,
                                    threshold)
    return [_band_pairs_needed((bounds[x], bounds[y]), plan, threshold)
            for (x, y), plan in plans.items()]


def skipped_fraction(mol, basis, precision: str = "float64", threshold: float | None = None,
                     chunk_bytes: int = 4 << 20) -> float:
    """The fraction of the primitive quartets `eri` evaluates without screening (every planned
    tile pair of every class pair, its padding included) that Schwarz screening at `threshold`
    (None: DEFAULT_THRESHOLD[precision]) leaves out: the band pairs below it, each counted with
    its primitive quartets. Reports what `eri` does; computes no integral but the bounds."""
    layout, arrays = layout_and_arrays(mol, basis, precision)
    threshold = DEFAULT_THRESHOLD[precision] if threshold is None else threshold
    if threshold == 0:
        return 0.0
    classes, plans, _ = _plans(layout, jnp.dtype(arrays.exponents.dtype).itemsize, chunk_bytes)
    needed = _needed_per_class_pair(layout, arrays,
                                    jnp.asarray(threshold, arrays.exponents.dtype), int(chunk_bytes))
    done = total = 0
    for ((x, y), plan), need in zip(plans.items(), needed):
        pp = classes[x].kind_a.nprim * classes[x].kind_b.nprim, \
            classes[y].kind_a.nprim * classes[y].kind_b.nprim
        per_band_pair = plan.tx * plan.ty * (pp[0] // plan.bands[0]) * (pp[1] // plan.bands[1])
        done += int(np.sum(np.asarray(need))) * per_band_pair
        total += need.size * per_band_pair
    return 1.0 - done / total


@executables.jit(static_argnums=1)
def unpack(packed: jnp.ndarray, nao: int) -> jnp.ndarray:
    """Dense (nao, nao, nao, nao) ERIs from the s8-packed vector.

    The gather index is computed in the program from iotas rather than baked in as a nao^4
    constant, which would make the compiled program as large as the index and slow to
    compile and cache.
    """
    index_dtype = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32
    if index_dtype == jnp.int32 and packed.shape[0] > np.iinfo(np.int32).max // 2:
        raise ValueError(f"nao={nao}: packed ERI indices overflow int32; enable JAX x64")
    i = jnp.arange(nao, dtype=index_dtype)
    pair = triangle.index(i[:, None], i[None])
    return packed[triangle.index(pair[:, :, None, None], pair[None, None])]


@executables.jit(static_argnums=(0, 3, 4, 5, 6))
def _eri_jit(layout, arrays, threshold, screen, chunk_bytes, packed, omega):
    out = eri_packed(layout, arrays, threshold if screen else 0.0, chunk_bytes, omega)
    return out if packed else unpack(out, layout.nao)
