"""Coulomb and exchange matrices from ERIs: what the SCF needs every iteration.

    J_ij = sum_kl (ij|kl) D_kl,    K_ij = sum_kl (ik|jl) D_kl.

Pure jnp functions, traceable inside a jitted SCF loop, for ERIs in one of three layouts:

* pair matrices (`pair_matrices`), for symmetric densities (every SCF density): with pair
  indices p = (ij), q = (kl) over i >= j, k >= l (PySCF's i(i+1)/2 + j) and w_q = 2 for
  k != l, 1 for k = l,
      J_p = sum_q Jpq w_q D_q,   Jpq = (ij|kl),
      K_p = sum_q Kpq w_q D_q,   Kpq = [(ik|jl) + (il|jk)] / 2,
  the closed-shell supermatrices of Raffenetti (Chem. Phys. Lett. 20, 335, 1973). Both are
  symmetric npair x npair (npair = nao(nao+1)/2) and J, K come from one matrix-vector product
  over the pair (2, npair, npair): nao^4/2 values read per build, a quarter of the dense
  tensor's two passes;
  `two_electron` gives J - a/2 K from their combination P (`fock_supermatrix`, which an
  SCF keeps instead of the pair, as the blocks of its lower triangle), one pass over
  nao^4/8 values;
* the dense (nao, nao, nao, nao) tensor in row-major order, any density: J is a
  matrix-vector product over its (ij) x (kl) rows and K a weighted sum over the contiguous
  middle axes, written as a reduction rather than as an einsum, which XLA:CPU would turn
  into a transposed copy of the whole tensor;
* the s8-packed vector: unpacked to the dense tensor first, every call (nao^4 gathers): a
  loop that calls jk many times with the same integrals should convert them once;
* density-fitted ERIs (`dftgen.integrals.df.FittedERI`): J and K from the fitted tensor,
  naux nao^2 / 2 values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.integrals import df, symmetric, triangle
from dftgen.integrals.eri import n_packed, unpack
from dftgen.integrals.symmetric import SymmetricBlocks
from dftgen.precision import Float32Pair, remainder


def _jk_dense(dense: jnp.ndarray, dm: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    nao = dm.shape[-1]
    j = (dense.reshape(nao * nao, nao * nao) @ dm.reshape(-1)).reshape(nao, nao)
    k = jnp.sum(dense.reshape(nao, nao * nao, nao) * dm.reshape(1, nao * nao, 1), axis=1)
    return j, k


def _pair_product(supermatrices: jnp.ndarray, dm: jnp.ndarray) -> jnp.ndarray:
    """sum_q M_pq w_q D_q for supermatrices (..., npair, npair), as (..., nao, nao) matrices."""
    return (supermatrices @ triangle.weighted(dm))[..., triangle.pairs(dm.shape[-1])[3]]


def _jk_pairs(pair_eri: jnp.ndarray, dm: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    return tuple(_pair_product(pair_eri, dm))


def _index_dtype(packed: jnp.ndarray, nao: int):
    """int32 where the packed indices and their intermediates fit (faster gathers than
    int64), else int64 (JAX x64)."""
    if packed.shape != (n_packed(nao),):
        raise ValueError(f"packed ERIs of shape {tuple(packed.shape)} do not match nao={nao} "
                         f"({n_packed(nao)} unique integrals)")
    if packed.shape[0] <= np.iinfo(np.int32).max // 2:
        return jnp.int32
    if not jax.config.jax_enable_x64:
        raise ValueError(f"nao={nao}: packed ERI indices overflow int32; enable JAX x64")
    return jnp.int64


def _packed_index(a, b):
    """The s8-packed position of the pair (or integral) (a, b): hi (hi + 1) / 2 + lo."""
    hi, lo = jnp.maximum(a, b), jnp.minimum(a, b)
    return hi * (hi + 1) // 2 + lo


def _supermatrix_elements(packed, nao: int, p, q):
    """Coulomb and exchange supermatrix elements J_pq = (ab|cd) and
    K_pq = [(ac|bd) + (ad|bc)] / 2 for the pairs p = (ab), q = (cd): integer arrays
    (numpy, below npair) that broadcast together; XLA drops the gathers of an unused half."""
    index_dtype = _index_dtype(packed, nao)
    i, j, _, _ = triangle.pairs(nao)
    a, b, c, d = (jnp.asarray(x, index_dtype) for x in (i[p], j[p], i[q], j[q]))
    p, q = jnp.asarray(p, index_dtype), jnp.asarray(q, index_dtype)
    coulomb = packed[_packed_index(p, q)]
    exchange = 0.5 * (packed[_packed_index(_packed_index(a, c), _packed_index(b, d))]
                      + packed[_packed_index(_packed_index(a, d), _packed_index(b, c))])
    return coulomb, exchange


def _supermatrices(packed: jnp.ndarray, nao: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Raffenetti's Coulomb and exchange supermatrices, each (npair, npair), from the s8-packed
    ERIs (the packed vector is the lower triangle of the Coulomb supermatrix row by row)."""
    q = np.arange(nao * (nao + 1) // 2)
    return _supermatrix_elements(packed, nao, q[:, None], q[None, :])


def _fock_blocks(packed: jnp.ndarray, packed_lr, nao: int, hybrid: float,
                 long_range: float) -> jnp.ndarray:
    """The lower-triangle blocks of P = J - (hybrid/2) K - (long_range/2) K_lr, zero in the
    padding; K_lr from packed_lr, the ERIs of erf(omega r)/r (used when long_range != 0)."""
    npair = nao * (nao + 1) // 2
    p, q = symmetric.element_indices(npair)
    rows, cols = np.minimum(p, npair - 1), np.minimum(q, npair - 1)
    coulomb, exchange = _supermatrix_elements(packed, nao, rows, cols)
    blocks = coulomb if hybrid == 0 else coulomb - (0.5 * hybrid) * exchange
    if long_range:
        blocks = blocks - (0.5 * long_range) * _supermatrix_elements(packed_lr, nao, rows, cols)[1]
    return jnp.where(jnp.asarray(p < npair) & jnp.asarray(q < npair), blocks, 0.0)


@executables.jit(static_argnums=(2, 3, 4))
def _fock_full(packed, packed_lr, nao: int, hybrid: float, long_range: float) -> SymmetricBlocks:
    return SymmetricBlocks(_fock_blocks(packed, packed_lr, nao, hybrid, long_range))


@executables.jit(static_argnums=(2, 3, 4))
def _fock_rounded(packed, packed_lr, nao: int, hybrid: float, long_range: float) -> jnp.ndarray:
    return _fock_blocks(packed, packed_lr, nao, hybrid, long_range).astype(jnp.float32)


@executables.jit(static_argnums=(3, 4, 5))
def _fock_remainder(packed, packed_lr, hi: jnp.ndarray, nao: int, hybrid: float,
                    long_range: float) -> jnp.ndarray:
    return remainder(_fock_blocks(packed, packed_lr, nao, hybrid, long_range), hi)


def _fock_pair(packed, packed_lr, nao: int, hybrid: float, long_range: float) -> SymmetricBlocks:
    """P's blocks as a Float32Pair, hi and lo each gathered by its own program, fused with
    the rounding: in one program XLA shares the gathers of the two and writes float64 P out,
    which is slower than two programs."""
    hi = _fock_rounded(packed, packed_lr, nao, hybrid, long_range)
    return SymmetricBlocks(Float32Pair(hi, _fock_remainder(packed, packed_lr, hi, nao, hybrid,
                                                           long_range)))


@executables.jit(static_argnums=1)
def pair_matrices(packed: jnp.ndarray, nao: int) -> jnp.ndarray:
    """The Coulomb and exchange supermatrices (2, npair, npair) from the s8-packed ERIs."""
    return jnp.stack(_supermatrices(packed, nao))


def fock_supermatrix(packed: jnp.ndarray, nao: int, hybrid: float, as_pair: bool = False,
                     long_range: tuple[jnp.ndarray, float] | None = None) -> SymmetricBlocks:
    """Raffenetti's P = J - (hybrid/2) K supermatrix (npair, npair) from the s8-packed ERIs,
    as the blocks of its lower triangle (`dftgen.integrals.symmetric`): all a closed-shell
    SCF with that exact-exchange fraction needs (`two_electron`), in a quarter of the
    memory of `pair_matrices` and built in one pass of npair^2 / 2 elements. as_pair
    (float64 ERIs): the blocks as a `Float32Pair`, each half rounded as it is gathered (two
    passes, no float64 P). long_range: (packed ERIs of erf(omega r)/r, fraction b) for a
    range-separated hybrid, whose P also holds -(b/2) K_lr."""
    packed_lr, fraction = long_range if long_range is not None else (None, 0.0)
    build = _fock_pair if as_pair else _fock_full
    return build(packed, packed_lr, nao, hybrid, float(fraction))


def two_electron(eri, dm: jnp.ndarray, hybrid: float, long_range: float = 0.0,
                 orbitals: jnp.ndarray | None = None) -> jnp.ndarray:
    """G = J - (hybrid/2) K - (long_range/2) K_lr (nao, nao), the two-electron part of a
    closed-shell Fock matrix, for one symmetric density matrix; K_lr is the exchange of
    erf(omega r)/r of a range-separated functional.

    eri: any layout `jk` takes, or the P supermatrix of `fock_supermatrix`, which has its
    exchange fractions built in (hybrid and long_range must be the ones it was built with);
    from P as a `Float32Pair`, G is in float64. With P, G is one product, and every Fock
    build reads nao^4/8 values. long_range != 0 needs P or a `df.FittedERI` with b_lr.
    orbitals (nao, n) with dm = orbitals orbitals^T, if given, let fitted ERIs build K in
    4 naux nao^2 n flops (`df.exchange`); the other layouts do not need them.
    """
    if isinstance(eri, SymmetricBlocks):
        _, _, _, index = triangle.pairs(dm.shape[-1])
        return eri.product(triangle.weighted(dm))[index]
    if isinstance(eri, df.FittedERI):
        return df.two_electron(eri, dm, hybrid, long_range, orbitals)
    if long_range != 0:
        raise ValueError("these ERIs hold no long-range exchange: give two_electron the P "
                         "supermatrix of fock_supermatrix(long_range=...) or fitted ERIs")
    if eri.ndim != 3:
        j, k = jk(eri, dm)
        return j - 0.5 * hybrid * k
    _check_pairs(eri, dm.shape[-1])
    return _pair_product(eri[0] if hybrid == 0 else eri[0] - (0.5 * hybrid) * eri[1], dm)


def _check_pairs(eri, nao: int) -> None:
    """eri: the pair matrices (2, npair, npair) of a density of nao orbitals."""
    npair = nao * (nao + 1) // 2
    expected = (2, npair, npair)
    if eri.shape != expected:
        raise ValueError(f"pair ERI matrices of shape {tuple(eri.shape)} do not match a "
                         f"density matrix of {nao} orbitals (expected {expected})")


def jk(eri: jnp.ndarray, dm: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(J, K) for one density matrix (nao, nao) or several (n, nao, nao).

    Args:
        eri: s8-packed ERI vector, the dense (nao, nao, nao, nao) array, the pair
            matrices (2, npair, npair) of `pair_matrices`, or a `df.FittedERI`.
        dm: density matrix or matrices; symmetric with pair matrices, any otherwise.

    Returns:
        J, K with the shape of dm.
    """
    nao = dm.shape[-1]
    if isinstance(eri, df.FittedERI):
        return df.jk(eri, dm)
    if isinstance(eri, SymmetricBlocks):
        raise ValueError("a P supermatrix holds J - a/2 K only: pass it to two_electron, "
                         "or give jk the packed, dense or pair-matrix ERIs")
    if eri.ndim == 3:
        _check_pairs(eri, nao)
        one = _jk_pairs
    else:
        eri = eri if eri.ndim == 4 else unpack(eri, nao)
        if eri.shape != (nao,) * 4:
            raise ValueError(f"ERIs of shape {tuple(eri.shape)} do not match a density matrix of "
                             f"{nao} orbitals (packed: {n_packed(nao)} values)")
        one = _jk_dense
    if dm.ndim == 2:
        return one(eri, dm)
    return jax.vmap(one, in_axes=(None, 0))(eri, dm)
