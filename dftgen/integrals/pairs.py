"""Primitive-pair data of a pair class: Hermite expansion coefficients of every primitive
pair, with contraction coefficients and the map from Cartesian components to AOs (cart2sph,
or a diagonal for Cartesian shells) folded in.

For a pair of groups (a, b) with primitives alpha_i on A and beta_j on B, and a Hermite
index h = (t, u, v), the pair's function products are
    phi_m(r) phi_n(r) = sum_{ij} sum_h  E[ij, h, m, n] Lambda_h(r; p_ij, P_ij),
so any integral over the product is a contraction of E with that integral over Hermite
Gaussians Lambda_h. Computed once per pair and reused by every partner (the ERI's kets).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen.integrals.hermite import expansion_coefficients, hermite_tuples
from dftgen.integrals.layout import BasisArrays, Kind, Layout, PairClass, angular


class PairData(NamedTuple):
    """Primitive pairs of a pair class, pp = npa * npb per pair.

    p: (npair, pp) total exponents; centre: (npair, pp, 3) Gaussian product centres P;
    e: (npair, pp, nh, nfunc_a * nfunc_b) Hermite coefficients over hermite_tuples(la + lb).
    """

    p: jnp.ndarray
    centre: jnp.ndarray
    e: jnp.ndarray


def max_l(kind: Kind) -> int:
    return max(kind.ls)


def gather(layout: Layout, cls: PairClass, arrays: BasisArrays):
    """Exponents (npair, np), contraction coefficients per Cartesian component
    (npair, np, ncart) and centres (npair, 3) of both sides of every pair of a class."""
    out = []
    for side, kind in ((0, cls.kind_a), (1, cls.kind_b)):
        groups = [layout.groups[pair[side]] for pair in cls.pairs]
        nprim = kind.nprim
        shells = np.array([g.shells for g in groups])  # (npair, nshell_in_group)
        _, shell_of, _ = angular(kind.ls, kind.cartesian)
        exps = arrays.exponents[shells[:, 0], :nprim]
        coefs = arrays.coefficients[shells[:, shell_of], :nprim]  # (npair, ncart, np)
        centre = arrays.positions[np.array([g.atom for g in groups])]
        out.append((exps, coefs.swapaxes(1, 2), centre))  # numpy or JAX, as `arrays`
    return out


def _primitive_pairs(side_a, side_b):
    (ea, _, ca), (eb, _, cb) = side_a, side_b
    a, b = ea[:, :, None], eb[:, None, :]
    xab = (ca - cb)[:, None, None, :]
    return a, b, xab


def _cartesian(per_axis, powers_a, powers_b, herm):
    """Product over axes of per-axis tables (..., i, j, t) -> (..., nh, nca, ncb)."""
    out = None
    for d, table in enumerate(per_axis):
        factor = table[..., powers_a[None, :, None, d], powers_b[None, None, :, d], herm[:, None, None, d]]
        out = factor if out is None else out * factor
    return out


def _to_aos(cart, side_a, side_b, kind_a, kind_b):
    """Fold contraction coefficients and cart2ao into (npair, npa, npb, X, nca, ncb)
    -> (npair, npa*npb, X, nfunc_a*nfunc_b)."""
    (_, coef_a, _), (_, coef_b, _) = side_a, side_b
    to_a, to_b = angular(kind_a.ls, kind_a.cartesian)[2], angular(kind_b.ls, kind_b.cartesian)[2]
    ca = coef_a[..., None] * to_a.astype(coef_a.dtype)  # (npair, npa, nca, nsa)
    cb = coef_b[..., None] * to_b.astype(coef_b.dtype)
    sph = _contract_sides(cart, ca, cb)
    npair, npa, npb, nh, nsa, nsb = sph.shape
    return sph.reshape(npair, npa * npb, nh, nsa * nsb)


def _contract_sides(cart, ca, cb):
    """sum_ij cart[x,a,b,h,i,j] ca[x,a,i,m] cb[x,b,j,n] -> (x, a, b, h, m, n), one Cartesian
    index at a time: the axes are a few long, and unrolled into elementwise products XLA:CPU
    runs this faster than the einsum's batched products."""
    left = sum(cart[:, :, :, :, i, None, :] * ca[:, :, None, None, i, :, None]
               for i in range(cart.shape[4]))  # (x, a, b, h, m, j)
    return sum(left[..., j, None] * cb[:, None, :, None, None, j, :] for j in range(cart.shape[5]))


#: pairs per call where a class's pairs go through a program in chunks (`by_chunks`): one
#: program then serves every class size (the ERIs' pair data and bounds)
PAIR_CHUNK = 64


def by_chunks(fn, layout: Layout, cls: PairClass, arrays: BasisArrays, *extra,
              chunk: int = PAIR_CHUNK):
    """fn(side_a, side_b, *extra, kind_a, kind_b) (a jitted program, kinds static) over a
    class's pairs `chunk` at a time (`in_chunks`)."""
    return in_chunks(fn, gather(layout, cls, arrays), len(cls.pairs), chunk, *extra,
                     cls.kind_a, cls.kind_b)


def in_chunks(fn, batched, n: int, chunk: int, *extra):
    """fn(*batched, *extra) over `chunk` entries of batched (a sequence of pytrees of arrays
    with n entries first) at a time, the last chunk filled with repeats, so that one
    compiled program serves every n; its outputs (arrays with the entries first)
    concatenated as NumPy arrays."""
    rows = np.minimum(np.arange(-(-n // chunk) * chunk), n - 1)
    parts = [jax.device_get(fn(*jax.tree.map(lambda a: a[rows[k:k + chunk]], tuple(batched)),
                               *extra))
             for k in range(0, len(rows), chunk)]
    return jax.tree.map(lambda *chunks: np.concatenate(chunks)[:n], *parts)


def pair_data(layout: Layout, cls: PairClass, arrays: BasisArrays) -> PairData:
    """Hermite coefficients of every primitive pair of a class (see module docstring)."""
    return pair_data_of_sides(*gather(layout, cls, arrays), cls.kind_a, cls.kind_b)


def pair_data_of_sides(side_a, side_b, kind_a: Kind, kind_b: Kind) -> PairData:
    """`pair_data` from both sides' `gather`ed exponents, coefficients and centres."""
    la, lb = max_l(kind_a), max_l(kind_b)
    a, b, xab = _primitive_pairs(side_a, side_b)
    table = expansion_coefficients(la, lb, a[..., None], b[..., None], xab)  # (..., 3, i, j, t)
    per_axis = [table[..., d, :, :, :] for d in range(3)]
    herm = np.array(hermite_tuples(la + lb))
    cart = _cartesian(per_axis, angular(kind_a.ls, kind_a.cartesian)[0],
                      angular(kind_b.ls, kind_b.cartesian)[0], herm)
    p = a + b
    centre = (a[..., None] * side_a[2][:, None, None, :] + b[..., None] * side_b[2][:, None, None, :]) / p[..., None]
    npair = p.shape[0]
    return PairData(
        p=p.reshape(npair, -1),
        centre=centre.reshape(npair, -1, 3),
        e=_to_aos(cart, side_a, side_b, kind_a, kind_b),
    )


def kinetic_pairs(layout: Layout, cls: PairClass, arrays: BasisArrays) -> jnp.ndarray:
    """Kinetic-energy integrals -1/2 <a|nabla^2|b> of every pair, (npair, nfunc_a*nfunc_b)."""
    return kinetic_pairs_of_sides(*gather(layout, cls, arrays), cls.kind_a, cls.kind_b)


def kinetic_pairs_of_sides(side_a, side_b, kind_a: Kind, kind_b: Kind) -> jnp.ndarray:
    """`kinetic_pairs` from both sides' `gather`ed exponents, coefficients and centres.

    Along one axis, d^2/dx^2 x_B^j e^{-b x_B^2} = j(j-1) x_B^{j-2} - 2b(2j+1) x_B^j + 4b^2 x_B^{j+2},
    so the kinetic integral is a sum of overlaps with j - 2, j, j + 2.
    """
    la, lb = max_l(kind_a), max_l(kind_b)
    a, b, xab = _primitive_pairs(side_a, side_b)
    s, k = [], []
    overlaps = expansion_coefficients(la, lb + 2, a[..., None], b[..., None], xab)[..., 0]
    for d in range(3):
        ov = overlaps[..., d, :, :]  # (..., la+1, lb+3)
        bb = b[..., None, None]
        j = np.arange(lb + 1)
        lower = jnp.concatenate([jnp.zeros_like(ov[..., :2]), ov[..., : max(lb - 1, 0)]], axis=-1)[..., : lb + 1]
        kin = -0.5 * (j * (j - 1) * lower - 2 * bb * (2 * j + 1) * ov[..., : lb + 1]
                      + 4 * bb * bb * ov[..., 2 : lb + 3])
        s.append(ov[..., : lb + 1, None])
        k.append(kin[..., None])
    norm = (jnp.pi / (a + b)) ** 1.5
    herm = np.zeros((1, 3), dtype=np.int64)
    pa = angular(kind_a.ls, kind_a.cartesian)[0]
    pb = angular(kind_b.ls, kind_b.cartesian)[0]
    cart = sum(
        _cartesian([k[d] if d == axis else s[d] for d in range(3)], pa, pb, herm) for axis in range(3)
    ) * norm[..., None, None, None]
    return _to_aos(cart, side_a, side_b, kind_a, kind_b).sum(axis=1)[:, 0]
