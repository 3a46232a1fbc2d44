"""Density fitting (resolution of the identity) of the Coulomb and exchange matrices, as
PySCF's `mf.density_fit()` does it.

With an auxiliary basis {chi_P}, the Coulomb metric M_PQ = (P|Q) = L L^T (Cholesky) and the
fitted tensor B = L^-1 (P|ij),

    (ij|kl) ~ sum_P B_Pij B_Pkl,
    J_ij = sum_P B_Pij rho_P,   rho_P = sum_kl B_Pkl D_kl,
    K_il = sum_P (B_P D B_P)_il,

for any density D (nao, nao). B holds naux nao^2 values (naux about 3-5 nao for the jkfit
sets) instead of the exact ERIs' nao^4 / 8, and a Fock build costs 4 naux nao^3 flops
(K; J is 4 naux nao^2). B is stored as B[i, P, j] (nao, naux, nao), the auxiliary index in
the middle: K is then two plain matrix products, (B D) over (i P, j) and its product with
B over (P k), with no transposed copy of B.

The auxiliary basis is by default PySCF's choice for the orbital basis
(`pyscf.df.addons.make_auxbasis`: cc-pvdz-jkfit for 6-31G*, def2-svp-jkfit for def2-SVP),
or any basis set PySCF knows by name; its shells go up to g.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from dftgen import basis as basis_mod
from dftgen.integrals.auxiliary import metric, three_centre


class FittedERI(NamedTuple):
    """The fitted ERIs of one molecule: b (nao, naux, nao), b[i, P, j] = (L^-1 (P|ij)) with
    (P|Q) = L L^T, Hartree^(1/2) (sum_P b[i, P, j] b[k, P, l] ~ (ij|kl) in Hartree)."""

    b: jax.Array


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


@jax.jit
def _fit(metric_pq: jnp.ndarray, three: jnp.ndarray) -> jnp.ndarray:
    """B (nao, naux, nao) from (P|Q) (naux, naux) and (P|ij) (naux, nao, nao); NaN where the
    metric is not numerically positive definite."""
    naux, nao, _ = three.shape
    chol = jnp.linalg.cholesky(metric_pq)
    b = jax.scipy.linalg.solve_triangular(chol, three.reshape(naux, nao * nao), lower=True)
    return jnp.transpose(b.reshape(naux, nao, nao), (1, 0, 2))


def fitted_eri(mol, basis, auxbasis: basis_mod.BasisSet) -> FittedERI:
    """The fitted ERIs of `mol` in `basis` (a BasisSet or a name) with the auxiliary BasisSet
    `auxbasis` (`auxiliary_basis`), in float64; positions may be JAX tracers (the result is
    differentiable).

    Raises:
        ValueError: the auxiliary metric is not positive definite (its functions are linearly
            dependent on this molecule).
    """
    b = _fit(metric(mol, auxbasis), three_centre(mol, basis, auxbasis))
    if not isinstance(b, jax.core.Tracer) and not bool(jnp.isfinite(b).all()):
        raise ValueError(f"the Coulomb metric of auxiliary basis {auxbasis.name!r} is not "
                         f"positive definite on {mol.name!r}: its functions are linearly "
                         f"dependent; choose another auxbasis")
    return FittedERI(b)


def coulomb(fitted: FittedERI, dm: jnp.ndarray) -> jnp.ndarray:
    """J (nao, nao) of a density (nao, nao)."""
    # both products batched over i, in B's own layout: contracted over (i, j) or over the
    # middle index P at once, XLA:CPU would first copy B transposed
    rho = jnp.einsum("iPj,ij->iP", fitted.b, dm).sum(axis=0)
    return jnp.einsum("iPj,iP->ij", fitted.b, jnp.broadcast_to(rho, fitted.b.shape[:2]))


def exchange(fitted: FittedERI, dm: jnp.ndarray) -> jnp.ndarray:
    """K (nao, nao) of a density (nao, nao): sum_(P k) (B_P D)_ik B_P,kl as two products."""
    nao, naux, _ = fitted.b.shape
    b_dm = (fitted.b.reshape(nao * naux, nao) @ dm).reshape(nao, naux * nao)
    return b_dm @ fitted.b.reshape(nao, naux * nao).T


def jk(fitted: FittedERI, dm: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(J, K) for one density (nao, nao) or several (n, nao, nao)."""
    if dm.ndim == 3:
        return jax.vmap(functools.partial(jk, fitted))(dm)
    return coulomb(fitted, dm), exchange(fitted, dm)


def two_electron(fitted: FittedERI, dm: jnp.ndarray, hybrid: float) -> jnp.ndarray:
    """G = J - (hybrid/2) K (nao, nao); K is not built when hybrid is 0."""
    if hybrid == 0:
        return coulomb(fitted, dm)
    return coulomb(fitted, dm) - (0.5 * hybrid) * exchange(fitted, dm)
