"""Density fitting (resolution of the identity) of the Coulomb and exchange matrices, as
PySCF's `mf.density_fit()` does it.

With an auxiliary basis {chi_P}, the Coulomb metric M_PQ = (P|Q) = L L^T (Cholesky) and the
fitted tensor B = L^-1 (P|ij),

    (ij|kl) ~ sum_P B_Pij B_Pkl,
    J_ij = sum_P B_Pij rho_P,   rho_P = sum_kl B_Pkl D_kl,
    K_il = sum_P (B_P D B_P)_il,

for any density D (nao, nao). B holds naux npair values (npair = nao (nao + 1) / 2; naux
about 3-5 nao for the jkfit sets) instead of the exact ERIs' nao^4 / 8, and a Fock build
costs 4 naux nao^3 flops (K; J is 4 naux npair). Each B_P is symmetric, so B is stored as
its lower triangles, B[P, p] over the pairs p = (i >= j) (`dftgen.integrals.triangle`),
half of naux nao^2, as PySCF stores its `_cderi`. One pass over B's rows, a block of B_P at
a time (EXCHANGE_BLOCK_BYTES), builds both: each row P gives its own rho_P and adds
rho_P B_P to J; K unpacks the block and contracts it with D, (B_P D) over (i, P k) times
B over (P k, l). Where the SCF knows D's orbitals, D = C C^T
with C (nao, n), K = sum_P (B_P C)(B_P C)^T costs 4 naux nao^2 n flops instead (n, the
occupied count, is a quarter to a fifth of nao in polarised bases), as PySCF's DF exchange
does with mo_coeff.

Where B would take too much memory (`dftgen.scf.problem.FITTED_ERI_BYTES`, a quarter of the
machine's), it is written to a temporary file as it is made, slab by slab of (P|ij), and
each Fock build reads it back a block at a time (`stored`), as PySCF keeps its `_cderi` on
disk beyond `max_memory`: the process then holds a slab or a block, not B. A build's
4 naux nao^2 n flops of K outweigh reading naux nao^2 / 2 values, from the page cache
where memory allows.

Where the metric is not positive definite beyond rounding, B = W^-1/2 V^T (P|ij) over the
eigenpairs (W, V) of the metric with eigenvalues above LINEAR_DEPENDENCE, the pseudo-inverse
PySCF's `df.incore.cholesky_eri` falls back to when its Cholesky factorisation fails. Forces
differentiate either form as PySCF's DF gradients do (`df_gradient`).

Range-separated exchange is fitted as PySCF's `DF.range_coulomb(omega)` does it: a second B
from the same auxiliary basis with both (P|ij) and (P|Q) of erf(omega r)/r. That metric is
singular to rounding (cc-pvdz-jkfit at omega 0.3: smallest eigenvalues about -1e-14, 40-55%
of them below LINEAR_DEPENDENCE) and takes the eigenvalue route. PySCF's Cholesky
factorisation of it fails in most cases but succeeds by accident of rounding in some (10 of
90 metrics: water and methane with def2-svp-jkfit at several omega), and there the two
routes differ by a few 1e-9 Ha; dftgen decides by the eigenvalues, not by the accident.

The auxiliary basis is by default PySCF's choice for the orbital basis
(`pyscf.df.addons.make_auxbasis`: cc-pvdz-jkfit for 6-31G*, def2-svp-jkfit for def2-SVP),
or any basis set PySCF knows by name; its shells go up to g.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import basis as basis_mod, executables
from dftgen.integrals import stored, triangle
from dftgen.integrals.auxiliary import (metric, slab_edges, three_centre_slabs,
                                        three_centre_stepwise)
from dftgen.integrals.layout import is_traced, layout_and_arrays


# PySCF's df.incore.LINEAR_DEP_THR: metric eigenvalues at or below it are dropped (Hartree)
LINEAR_DEPENDENCE = 1e-7
FIT_SLAB_BYTES = 64 << 20  # columns (pairs) of B fitted in one call where B is made in place
EXCHANGE_BLOCK_BYTES = 128 << 20  # B_P unpacked to (nao, nao) at a time for K
FILE_SLAB_BYTES = 512 << 20  # (P|ij) computed and fitted at a time where B goes to a file


class FittedERI(NamedTuple):
    """The fitted ERIs of one molecule: b (naux, npair), b[P, p] = (X (Q|ij))_P for the pair
    p = i (i + 1) / 2 + j, i >= j (`dftgen.integrals.triangle`), with X^T X = (P|Q)^-1
    (X = L^-1 of (P|Q) = L L^T, or the eigenvalue route's W^-1/2 V^T), Hartree^(1/2)
    (sum_P B_P,ij B_P,kl ~ (ij|kl) in Hartree), of the operator it was fitted for (1/r, or
    erf(omega r)/r); a `stored.StoredMatrix` where it is held in a file. b_lr: for a range-separated functional's SCF,
    the same of erf(omega r)/r beside b of 1/r (None otherwise)."""

    b: jax.Array
    b_lr: jax.Array | None = None


def default_auxbasis(mol, basis: str) -> str:
    """The auxiliary basis PySCF's `make_auxbasis` picks for `basis` on `mol`'s elements.

    Raises:
        BasisError: PySCF's choice is not one named basis set for every element (it falls
            back to generated even-tempered functions where no fitting set is known).
    """
    from pyscf.df.addons import make_auxbasis

    chosen = make_auxbasis(mol.to_pyscf(basis))  # element -> name, or generated functions
    names = {v if isinstance(v, str) else "even-tempered" for v in chosen.values()}
    if len(names) != 1 or "even-tempered" in names:
        raise basis_mod.BasisError(
            f"PySCF picks no one named auxiliary basis for {basis!r} on these elements "
            f"({sorted(names)}); choose one with auxbasis=")
    return names.pop()


def auxiliary_basis(mol, basis: str, auxbasis: str | None = None,
                    shells: str = "spherical") -> basis_mod.BasisSet:
    """The auxiliary BasisSet on `mol`: `auxbasis` by name, or None for `default_auxbasis`
    of the orbital basis; shells as the orbital basis's (PySCF's auxmol inherits cart)."""
    name = default_auxbasis(mol, basis) if auxbasis is None else auxbasis
    return basis_mod.build(mol, name, shells, l_max=basis_mod.L_MAX_AUXILIARY)


def _eigen_factor(w: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """X = W^-1/2 V^T (naux, naux) over the metric's eigenpairs (w (naux,), v (naux, naux))
    above LINEAR_DEPENDENCE, zero rows for the others: X^T X is its pseudo-inverse."""
    kept = w > LINEAR_DEPENDENCE
    return (v * jnp.where(kept, jax.lax.rsqrt(jnp.where(kept, w, 1.0)), 0.0)).T


@executables.jit
def _factor(metric_pq: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(factor (naux, naux), whether it is the Cholesky factor L of the metric): L where the
    metric is positive definite beyond rounding (smallest eigenvalue above naux eps times
    the largest), else `_eigen_factor`'s X."""
    w, v = jnp.linalg.eigh(metric_pq)
    ok = w[0] > metric_pq.shape[0] * jnp.finfo(w.dtype).eps * w[-1]
    return jax.lax.cond(ok, lambda: jnp.linalg.cholesky(metric_pq),
                        lambda: _eigen_factor(w, v)), ok


def _apply(factor: jnp.ndarray, is_cholesky: jnp.ndarray, v: jnp.ndarray,
           transposed: bool = False) -> jnp.ndarray:
    """X v (or X^T v) for v (naux, n), X = L^-1 or the eigenvalue factor (`_factor`)."""
    return jax.lax.cond(
        is_cholesky,
        lambda: jax.scipy.linalg.solve_triangular(factor, v, lower=True, trans=int(transposed)),
        lambda: (factor.T if transposed else factor) @ v)


def fitted_eri(mol, basis, auxbasis: basis_mod.BasisSet, omega: float = 0.0,
               in_file: bool = False, factor: tuple | None = None) -> FittedERI:
    """The fitted ERIs of `mol` in `basis` (a BasisSet or a name) with the auxiliary BasisSet
    `auxbasis` (`auxiliary_basis`), in float64, of 1/r (omega 0) or of erf(omega r)/r
    (omega > 0, Bohr^-1, metric included: PySCF's `DF.range_coulomb`), made in place:
    memory B and a slab. in_file: B is written to a temporary file (`stored`),
    FILE_SLAB_BYTES of (P|ij) computed and fitted at a time, and read back a block at a
    time at every build. Positions are concrete (`df_gradient` differentiates the fitted
    energies). factor: the metric's `_factor`, where the caller has made it already.

    Raises:
        TypeError: the positions are JAX tracers."""
    layout, arrays = layout_and_arrays(mol, basis, "float64")
    aux_layout, aux_arrays = layout_and_arrays(mol, auxbasis, "float64")
    if is_traced(arrays, aux_arrays):
        raise TypeError("fitted_eri takes concrete positions; the gradient of a fitted "
                        "energy is dftgen.integrals.df_gradient.gradient")
    factor = _factor(metric(mol, auxbasis, omega)) if factor is None else factor
    shape = (aux_layout.nao, layout.nao * (layout.nao + 1) // 2)
    if not in_file:
        b = _aligned_zeros(shape)
        three_centre_stepwise(layout, arrays, aux_layout, aux_arrays, float(omega), out=b)
        _fit_in_place(factor, b)
        return FittedERI(jnp.from_dlpack(b))  # no copy: b is aligned as XLA's buffers are
    file = stored.RowFile(shape)
    edges = slab_edges(layout, aux_layout.nao, FILE_SLAB_BYTES)
    for first, slab in three_centre_slabs(layout, arrays, aux_layout, aux_arrays, float(omega),
                                          edges):
        _fit_in_place(factor, slab)
        file.write_columns(first, slab)
    return FittedERI(stored.StoredMatrix.of(file))


def _fit_in_place(factor: tuple[jnp.ndarray, jnp.ndarray], three: np.ndarray) -> None:
    """B = X (P|ij) over three (naux, n) (NumPy, overwritten), FIT_SLAB_BYTES of columns a
    call; factor: `_factor`'s (X or L, whether it is L)."""
    columns = max(1, min(three.shape[1], FIT_SLAB_BYTES // (three[:, 0].nbytes)))
    for start in range(0, three.shape[1], columns):
        slab = three[:, start:start + columns]
        padded = np.pad(slab, [(0, 0), (0, columns - slab.shape[1])])  # one program
        slab[...] = np.asarray(_fit_slab(*factor, padded))[:, :slab.shape[1]]


def rounded(fitted: FittedERI, dtype) -> FittedERI:
    """The fitted ERIs in dtype (a held B rounded once; one in a file rounded as read)."""
    return FittedERI(*(None if b is None else b.astype(dtype) for b in fitted))


@executables.jit
def _fit_slab(factor: jnp.ndarray, is_cholesky: jnp.ndarray, slab: jnp.ndarray) -> jnp.ndarray:
    """The columns (naux, c) of B from those of (P|ij) (naux, c)."""
    return _apply(factor, is_cholesky, slab)


def _aligned_zeros(shape: tuple[int, ...], alignment: int = 64) -> np.ndarray:
    """A float64 NumPy array of zeros whose data starts on an `alignment`-byte boundary, so
    that JAX can take it over without a copy (`jnp.from_dlpack`)."""
    size = int(np.prod(shape)) * 8
    raw = np.zeros(size + alignment, np.uint8)
    offset = -raw.ctypes.data % alignment
    return raw[offset:offset + size].view(np.float64).reshape(shape)


def _over_blocks(b, nao: int, step, init):
    """step(rows (r, npair), carry) -> carry folded over the rows of B (naux, npair), a
    block of r at a time (r B_P of EXCHANGE_BLOCK_BYTES unpacked), from memory or from its
    file; the last block overlaps the one before, with the shared rows zeroed."""
    naux = b.shape[0]
    rows = max(1, min(naux, EXCHANGE_BLOCK_BYTES // (nao * nao * b.dtype.itemsize)))

    def block(k, carry):
        start = jnp.minimum(k * rows, naux - rows)
        part = (stored.rows(b, start, rows) if isinstance(b, stored.StoredMatrix)
                else jax.lax.dynamic_slice_in_dim(b, start, rows))
        fresh = start + jnp.arange(rows) >= k * rows
        return step(jnp.where(fresh[:, None], part, 0), carry)

    return jax.lax.fori_loop(0, -(-naux // rows), block, init)


def _exchange_part(part: jnp.ndarray, dm: jnp.ndarray, orbitals: jnp.ndarray | None
                   ) -> jnp.ndarray:
    """sum_P over the rows part (r, npair) of B: (B_P D B_P) (nao, nao) as (B_P D) over
    (i, P k) times B_P over (P k, l), or with D = C C^T, (B_P C)(B_P C)^T."""
    nao = dm.shape[-1]
    b_p = triangle.unpack(part, nao).reshape(-1, nao)  # rows of B_P, (P k, l)
    if orbitals is not None:
        b_c = jnp.transpose((b_p @ orbitals).reshape(-1, nao, orbitals.shape[1]), (1, 0, 2))
        b_c = b_c.reshape(nao, -1)
        return b_c @ b_c.T
    b_dm = jnp.transpose((b_p @ dm).reshape(-1, nao, nao), (1, 0, 2))
    return b_dm.reshape(nao, -1) @ b_p


def coulomb(fitted: FittedERI, dm: jnp.ndarray) -> jnp.ndarray:
    """J (nao, nao) of a density (nao, nao)."""
    return two_electron(fitted, dm, 0.0)


def exchange(fitted: FittedERI, dm: jnp.ndarray, orbitals: jnp.ndarray | None = None
             ) -> jnp.ndarray:
    """K (nao, nao) of a density (nao, nao) from fitted.b; orbitals (nao, n), if given, with
    dm = orbitals orbitals^T (occupation weights folded in), make it cheaper."""
    return _exchange(fitted.b, dm, orbitals)


def _exchange(b, dm: jnp.ndarray, orbitals: jnp.ndarray | None = None) -> jnp.ndarray:
    """K (nao, nao) from B (naux, npair) in memory or in a file."""
    nao = dm.shape[-1]
    return _over_blocks(b, nao, lambda part, k: k + _exchange_part(part, dm, orbitals),
                        jnp.zeros((nao, nao), dm.dtype))


def jk(fitted: FittedERI, dm: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(J, K) for one density (nao, nao) or several (n, nao, nao)."""
    if dm.ndim == 3:
        return jax.vmap(functools.partial(jk, fitted))(dm)
    return coulomb(fitted, dm), exchange(fitted, dm)


def two_electron(fitted: FittedERI, dm: jnp.ndarray, hybrid: float,
                 long_range: float = 0.0, orbitals: jnp.ndarray | None = None) -> jnp.ndarray:
    """G = J - (hybrid/2) K - (long_range/2) K_lr (nao, nao), K_lr from fitted.b_lr (as
    PySCF's RKS with RSH: vk = hyb K + (alpha - hyb) K_lr); a K is not built where its
    fraction is 0. orbitals: as `exchange` takes them (None: K from dm). J and K come from
    one pass over B: rho_P = sum_p B_P,p w_p D_p and J_p = sum_P rho_P B_P,p over the pairs
    p (`triangle`), block by block."""
    if long_range != 0 and fitted.b_lr is None:
        raise ValueError("long-range exchange needs the fitted ERIs of erf(omega r)/r "
                         "(FittedERI.b_lr)")
    nao, w_dm = dm.shape[-1], triangle.weighted(dm)

    def step(part, carry):
        j, k = carry
        j = j + (part @ w_dm) @ part
        return j, (k + _exchange_part(part, dm, orbitals) if hybrid != 0 else k)

    j, k = _over_blocks(fitted.b, nao, step, (jnp.zeros(fitted.b.shape[1], dm.dtype),
                                              jnp.zeros((nao, nao), dm.dtype)))
    g = triangle.unpack(j, nao) - (0.5 * hybrid) * k
    if long_range != 0:
        g = g - (0.5 * long_range) * _exchange(fitted.b_lr, dm, orbitals)
    return g
