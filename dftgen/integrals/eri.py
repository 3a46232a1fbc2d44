"""Electron repulsion integrals (ij|kl) over contracted spherical Gaussians, s to f shells.

Algorithm: McMurchie-Davidson with precomputed primitive-pair data.

    (ab|cd) = sum_{prims} 2 pi^(5/2) / (p q sqrt(p+q))
              sum_{tuv} E^{ab}_{tuv} sum_{t'u'v'} (-1)^{t'+u'+v'} E^{cd}_{t'u'v'} R_{t+t',u+u',v+v'}(alpha, P-Q)

Why this one: every step is a dense array operation. The Hermite coefficients E of a pair
(with contraction coefficients, 1/p and the map to spherical functions folded in) are
computed once per primitive pair (pairs.py); for a class of shell-pair kinds, all bra
pairs x all ket pairs then need one Boys evaluation and one R recursion per primitive
quartet, a gather R_{h+h'}, and two contractions that are batched matrix products. That
maps onto SIMD units and GPUs without per-quartet branching, unlike Rys quadrature (root
finding) or Head-Gordon-Pople (recursions whose shape changes with the angular class).
Shells of one atom sharing exponents (STO-3G's 2s/2p) are one group (layout.py), so their
primitive quartets are evaluated once for all of their functions.

Storage: the unique integrals packed as PySCF's `aosym="s8"`: pair index ij = i(i+1)/2 + j
(i >= j), element ij(ij+1)/2 + kl (ij >= kl); `packed=False` unpacks to (nao,)*4.

Working memory: the packed vector (n_s8 = npair(npair+1)/2, npair = nao(nao+1)/2), the
blocks of every class pair before packing (at most ~4 n_s8 values: diagonal classes hold
each integral twice, and pairs of one group both orders of their functions), and for the
class pair being computed one chunk of at most `chunk_bytes` of intermediates (default
32 MiB; lax.map runs the chunks one after another).

Schwarz screening: |(ij|kl)| <= Q_ij Q_kl with Q_ij = max |(ij|ij)|^(1/2). A chunk of bra
pairs whose largest bound stays below `threshold` is skipped (its integrals read zero), so
no integral above the threshold is ever dropped.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from dftgen.integrals.hermite import coulomb_hermite, hermite_tuples
from dftgen.integrals.layout import BasisArrays, Layout, PairClass, prepare, trace_counts
from dftgen.integrals.pairs import max_l, pair_data

DEFAULT_THRESHOLD = {"float64": 1e-10, "float32": 1e-7}
PREFACTOR = 2.0 * math.pi**2.5


def n_packed(nao: int) -> int:
    npair = nao * (nao + 1) // 2
    return npair * (npair + 1) // 2


@functools.lru_cache(maxsize=None)
def _hermite_sum_index(lx: int, ly: int) -> np.ndarray:
    """(nh_x, nh_y) index into hermite_tuples(lx + ly) of the sum of two Hermite tuples."""
    where = {tuv: k for k, tuv in enumerate(hermite_tuples(lx + ly))}
    return np.array([[where[(t + a, u + b, v + c)] for (a, b, c) in hermite_tuples(ly)]
                     for (t, u, v) in hermite_tuples(lx)])


@functools.lru_cache(maxsize=None)
def _hermite_sign(l: int) -> np.ndarray:
    return np.array([(-1.0) ** sum(tuv) for tuv in hermite_tuples(l)])


def _pair_ao_index(layout: Layout, cls: PairClass) -> np.ndarray:
    """(npair, nsph_a * nsph_b) PySCF pair index i(i+1)/2 + j of each function pair, -1 for
    the duplicate (i < j) of a pair within one group."""
    aa = np.array([layout.groups[a].aos for a, _ in cls.pairs])[:, :, None]
    bb = np.array([layout.groups[b].aos for _, b in cls.pairs])[:, None, :]
    same = np.array([a == b for a, b in cls.pairs])[:, None, None]
    hi, lo = np.maximum(aa, bb), np.minimum(aa, bb)
    index = hi * (hi + 1) // 2 + lo
    return np.where(same & (aa < bb), -1, index).reshape(len(cls.pairs), -1)


def _class_pair_block(bra, ket, lx, ly, chunk_bytes, skip=None):
    """All integrals between the pairs of two classes, (nbra, nket, fab, fcd).

    bra, ket: (p, centre, e) with e already scaled (bra by 1/p; ket by (-1)^{t+u+v}/q).
    skip: optional (nbra,) bool, True where a bra pair's integrals may read zero.
    """
    p_b, c_b, e_b = bra
    p_k, c_k, e_k = ket
    nbra, ppx, nhx, fab = e_b.shape
    nket, ppy, nhy, fcd = e_k.shape
    index = _hermite_sum_index(lx, ly)
    L = lx + ly
    itemsize = jnp.dtype(e_b.dtype).itemsize
    per_bra = ppx * nket * ppy * (nhx * nhy + 2 * len(hermite_tuples(L)) + L + 1) * itemsize
    size = int(max(1, min(nbra, chunk_bytes // max(per_bra, 1))))
    nchunk = -(-nbra // size)
    pad = nchunk * size - nbra

    def padded(x):
        x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
        return x.reshape((nchunk, size) + x.shape[1:])

    def compute(p, c, e):
        q = p_k[None, None, :, :]
        pp = p[:, :, None, None]
        alpha = pp * q / (pp + q)
        r = c[:, :, None, None, :] - c_k[None, None]
        herm = coulomb_hermite(L, alpha, r, PREFACTOR / jnp.sqrt(pp + q))
        gathered = herm[..., index]  # (size, ppx, nket, ppy, nhx, nhy)
        ket_done = jnp.einsum("bpkqhg,kqgf->bpkhf", gathered, e_k)
        return jnp.einsum("bphe,bpkhf->bkef", e, ket_done)

    def chunk(args):
        p, c, e, s = args
        if skip is None:
            return compute(p, c, e)
        return jax.lax.cond(jnp.all(s), lambda: jnp.zeros((size, nket, fab, fcd), e.dtype),
                            lambda: compute(p, c, e))

    s = padded(skip) if skip is not None else jnp.zeros((nchunk, size), bool)
    out = jax.lax.map(jax.checkpoint(chunk), (padded(p_b), padded(c_b), padded(e_b), s))
    return out.reshape((nchunk * size, nket, fab, fcd))[:nbra]


def _scaled_pairs(layout, arrays):
    """Per unique pair class: (class, L, bra data, ket data)."""
    out = []
    for cls in layout.pair_classes(unique=True, pad=True):
        pd = pair_data(layout, cls, arrays)
        L = max_l(cls.kind_a) + max_l(cls.kind_b)
        bra = (pd.p, pd.centre, pd.e / pd.p[:, :, None, None])
        sign = _hermite_sign(L).astype(pd.e.dtype)[:, None]
        ket = (pd.p, pd.centre, pd.e * sign / pd.p[:, :, None, None])
        out.append((cls, L, bra, ket))
    return out


def _schwarz(bra, ket, L):
    """Q (npair,): sqrt of the largest diagonal integral (ab|ab) of each pair."""
    def one(args):
        b, k = args
        one_b = tuple(x[None] for x in b)
        one_k = tuple(x[None] for x in k)
        block = _class_pair_block(one_b, one_k, L, L, 1 << 40)[0, 0]
        return jnp.sqrt(jnp.max(jnp.abs(jnp.diagonal(block))))
    return jax.lax.map(one, (bra, ket))


def eri_packed(layout: Layout, arrays: BasisArrays, threshold: float = 0.0,
               chunk_bytes: int = 32 << 20) -> jnp.ndarray:
    """The s8-packed ERI vector from traced arrays (pure; vmappable). threshold > 0 turns on
    Schwarz screening at that threshold."""
    trace_counts["eri"] += 1
    classes = _scaled_pairs(layout, arrays)
    bounds = [_schwarz(bra, ket, L) for _, L, bra, ket in classes] if threshold > 0 else None
    size = n_packed(layout.nao)
    dests, values = [], []
    for x, (cls_x, lx, bra, _) in enumerate(classes):
        ij = _pair_ao_index(layout, cls_x)
        for y in range(x + 1):
            cls_y, ly, _, ket = classes[y]
            skip = None
            if bounds is not None:
                skip = bounds[x] * jnp.max(bounds[y]) < threshold
            block = _class_pair_block(bra, ket, lx, ly, chunk_bytes, skip)
            kl = _pair_ao_index(layout, cls_y)
            i4, k4 = ij[:, None, :, None], kl[None, :, None, :]
            hi, lo = np.maximum(i4, k4), np.minimum(i4, k4)
            keep = (i4 >= 0) & (k4 >= 0) & ((x != y) | (i4 >= k4))
            dests.append(np.where(keep, hi * (hi + 1) // 2 + lo, size).ravel())
            values.append(block.reshape(-1))
    out = jnp.zeros(size, dtype=values[0].dtype)
    dest = np.concatenate(dests)
    return out.at[dest].set(jnp.concatenate(values), mode="drop", unique_indices=True)


def unpack(packed: jnp.ndarray, nao: int) -> jnp.ndarray:
    """Dense (nao, nao, nao, nao) ERIs from the s8-packed vector."""
    i = np.arange(nao)
    pair = np.maximum(i[:, None], i[None]) * (np.maximum(i[:, None], i[None]) + 1) // 2 + np.minimum(i[:, None], i[None])
    hi = np.maximum(pair[:, :, None, None], pair[None, None])
    lo = np.minimum(pair[:, :, None, None], pair[None, None])
    return packed[hi * (hi + 1) // 2 + lo]


@functools.partial(jax.jit, static_argnums=(0, 2, 3, 4))
def _eri_jit(layout, arrays, threshold, chunk_bytes, packed):
    out = eri_packed(layout, arrays, threshold, chunk_bytes)
    return out if packed else unpack(out, layout.nao)


def eri(mol, basis, packed: bool = True, precision: str = "float64",
        threshold: float | None = None, chunk_bytes: int = 32 << 20) -> jnp.ndarray:
    """Electron repulsion integrals (ij|kl) in Hartree, chemists' notation.

    Args:
        mol: the molecule (positions may be JAX tracers: the result is differentiable).
        basis: a BasisSet or a basis-set name.
        packed: True: the s8-packed vector of n_s8 unique integrals, in the order of PySCF's
            mol.intor("int2e", aosym="s8"); False: the dense (nao, nao, nao, nao) array.
        precision: "float64" or "float32".
        threshold: Schwarz screening threshold (None: 1e-10 in float64, 1e-7 in float32;
            0: no screening). No integral larger than it is dropped.
        chunk_bytes: bound on the intermediates of one chunk (see the module docstring).
    """
    layout, arrays = prepare(mol, basis, precision)
    if threshold is None:
        threshold = DEFAULT_THRESHOLD[precision]
    return _eri_jit(layout, arrays, float(threshold), int(chunk_bytes), bool(packed))
