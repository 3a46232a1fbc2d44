"""The SCF iterations of restricted Kohn-Sham / Hartree-Fock as one pure JAX function.

Everything a molecule contributes arrives as arrays in `SCFInputs` (a pytree), and everything
that fixes shapes or control flow (the settings) is static, so one compiled program
serves every molecule of a shape bucket and `jax.vmap` batches them.

One iteration, as PySCF orders it: take the Fock matrix F[D] of the current density,
extrapolate it with Pulay DIIS, optionally level-shift it, solve F C = S C e through an
orthogonaliser X (X^T S X = 1), occupy the lowest orbitals, and rebuild F and the energy for
the new density. Closed shell throughout: D = sum_i occ_i C_i C_i^T with occ_i in {0, 2}.

Energies in Hartree; all matrices (nao, nao) in the AO basis unless named otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dftgen import executables, grids, integrals, xc
from dftgen.precision import on_device
from dftgen.presets import Settings


class SCFInputs(NamedTuple):
    """Arrays of one molecule (add a leading axis for a batch).

    h: core Hamiltonian T + V, (nao, nao).   s: overlap, (nao, nao).
    x: orthogonaliser with x^T s x = 1, (nao, nao).
    eri: electron repulsion integrals as `dftgen.integrals.two_electron` takes them:
        Raffenetti's P supermatrix for the functional's exact-exchange fraction, as the
        `SymmetricBlocks` of its lower triangle (each Fock build one pass over nao^4/8
        values), pair matrices (2, npair, npair), dense (nao,)*4, s8-packed, or
        density-fitted (`dftgen.integrals.df.FittedERI`, naux nao^2 / 2 values).
    ao: AO values (and gradients for GGAs) on the grid, AO-major: (k, nao, npts), as
        `dftgen.xc.vxc(..., ao_major=True)` takes them; or, for a grid too large to hold
        them, the `dftgen.grids.AOSource` they are evaluated from at each XC build.
    weights: grid weights, (npts,); zero for padding points.
    dm0: initial density, (nao, nao).   occ: occupation numbers in aufbau order, (nao,).
    e_nuc: nuclear repulsion energy, scalar.
    dm0_orbitals: (nao, n) with dm0 = dm0_orbitals dm0_orbitals^T (`dftgen.guess`'s
        `*_orbitals`), which the first Fock build takes beside dm0; or None.
    """

    h: jax.Array
    s: jax.Array
    x: jax.Array
    eri: jax.Array
    ao: jax.Array | grids.AOSource
    weights: jax.Array
    dm0: jax.Array
    occ: jax.Array
    e_nuc: jax.Array
    dm0_orbitals: jax.Array | None = None

    def with_guess(self, dm0, orbitals=None) -> SCFInputs:
        """These inputs started from dm0; orbitals: its factor, if known (the old one no
        longer is)."""
        return self._replace(dm0=dm0, dm0_orbitals=orbitals)


class SCFState(NamedTuple):
    """What the iterations leave behind.

    dm, fock: the last density and the (unextrapolated) Fock matrix built from it.
    energy: total energy of dm.   history: (max_iter,) total energy after each cycle, the
    tail filled with the last value when converge mode stops early.
    cycles: iterations run.   converged: the convergence test of converge mode was met.
    grad_norm: Frobenius norm of the orthonormal-basis commutator X^T (F D S - S D F) X.
    final: what `final_evaluation` returns, where the iterations ran it as their last step
    (float64 inputs: the final evaluation takes the same ones); None otherwise.
    """

    dm: jax.Array
    fock: jax.Array
    energy: jax.Array
    history: jax.Array
    cycles: jax.Array
    converged: jax.Array
    grad_norm: jax.Array
    final: tuple | None = None


def fock_and_energy(dm, inputs: SCFInputs, xc_name: str, orbitals=None):
    """F[D] and E[D] (total, Hartree) for a closed-shell density; orbitals (nao, n), where
    known, with D = orbitals orbitals^T (`occupied`), make fitted exchange cheaper, and the
    density on the grid where 2 n < nao.

    E = tr(D h) + 1/2 tr(D J) - a/4 tr(D K) - b/4 tr(D K_lr) + E_xc + E_nuc with a the
    exact-exchange fraction and b a range-separated functional's extra fraction of the
    exchange K_lr of erf(omega r)/r; F = h + J - a/2 K - b/2 K_lr + V_xc.
    """
    functional = xc.functional(xc_name)
    veff = integrals.two_electron(inputs.eri, dm, functional.hybrid, functional.long_range,
                                   orbitals)
    energy = jnp.vdot(dm, inputs.h) + 0.5 * jnp.vdot(dm, veff)
    if functional.terms:  # a density functional part, beyond exact exchange
        _, e_xc, v_xc = xc.vxc(functional, inputs.ao, inputs.weights, dm, orbitals=orbitals,
                               precision=dm.dtype, ao_major=True)
        veff = veff + v_xc
        energy = energy + e_xc
    return inputs.h + veff, energy + inputs.e_nuc


@executables.jit(static_argnames=("method",))
def orthogonaliser(s, method: str = "cholesky"):
    """X with X^T S X = 1: inverse transpose Cholesky factor, or Loewdin's S^-1/2."""
    if method == "cholesky":
        chol = jnp.linalg.cholesky(s)
        eye = jnp.eye(s.shape[0], dtype=s.dtype)
        return jax.scipy.linalg.solve_triangular(chol, eye, lower=True).T
    w, v = jnp.linalg.eigh(s)
    return (v * jax.lax.rsqrt(w)) @ v.T


def solve_fock(fock, x):
    """Orbital energies (nao,) ascending and coefficients (nao, nao) of F C = S C e."""
    e, c = jnp.linalg.eigh(x.T @ fock @ x)
    return e, x @ c


def density(c, occ):
    return (c * occ) @ c.T


def occupied(c, occ, n: int):
    """The first n orbitals weighted by sqrt(occ), (nao, n): density(c, occ) is their product
    with their transpose when no orbital past the n-th is occupied."""
    return c[:, :n] * jnp.sqrt(occ[:n])


def commutator(fock, dm, s, x):
    """X^T (F D S - S D F) X: zero at self-consistency."""
    fds = fock @ dm @ s
    return x.T @ (fds - fds.T) @ x


class DIIS(NamedTuple):
    """Pulay's direct inversion in the iterative subspace, as a ring buffer of pairs."""

    focks: jax.Array  # (space, nao, nao)
    errors: jax.Array  # (space, nao, nao)
    count: jax.Array  # pairs pushed so far

    @classmethod
    def empty(cls, space: int, nao: int, dtype):
        z = jnp.zeros((space, nao, nao), dtype)
        return cls(z, z, jnp.zeros((), jnp.int32))

    def push(self, fock, error) -> DIIS:
        slot = self.count % self.focks.shape[0]
        return DIIS(self.focks.at[slot].set(fock), self.errors.at[slot].set(error), self.count + 1)

    def extrapolate(self):
        """sum_i c_i F_i minimising |sum_i c_i e_i| subject to sum_i c_i = 1."""
        space = self.focks.shape[0]
        filled = jnp.arange(space) < self.count
        b = jnp.einsum("iab,jab->ij", self.errors, self.errors)
        b = jnp.where(filled[:, None] & filled[None, :], b, 0.0)
        # scaling by the largest error norm changes only the Lagrange multiplier, but keeps
        # float32 away from underflow near convergence
        b = b / jnp.maximum(jnp.max(jnp.diag(b)), jnp.finfo(b.dtype).tiny)
        b = b + jnp.diag((~filled).astype(b.dtype))  # empty slots decouple with c = 0
        ones = filled.astype(b.dtype)
        lhs = jnp.block([[b, ones[:, None]], [ones[None, :], jnp.zeros((1, 1), b.dtype)]])
        rhs = jnp.zeros(space + 1, b.dtype).at[space].set(1.0)
        c = _symmetric_pinv_solve(lhs, rhs)[:space]
        return jnp.einsum("i,iab->ab", c, self.focks)


def _symmetric_pinv_solve(a, b):
    """Least-squares solution of a symmetric, possibly singular system (repeated DIIS vectors)."""
    w, v = jnp.linalg.eigh(a)
    cutoff = jnp.finfo(a.dtype).eps * a.shape[0] * jnp.max(jnp.abs(w))
    w_inv = jnp.where(jnp.abs(w) > cutoff, 1.0 / jnp.where(w == 0, 1.0, w), 0.0)
    return v @ (w_inv * (v.T @ b))


@executables.jit(static_argnames=("settings", "n_orbitals"))
def iterate(inputs: SCFInputs, settings: Settings, n_orbitals: int | None = None) -> SCFState:
    """Run the SCF of functional `settings.xc` from inputs.dm0: `settings.max_iter` cycles in
    fixed mode, or until |dE| < conv_tol and grad_norm < conv_tol_grad in converge mode.
    n_orbitals: at least the number of occupied orbitals, if given: the Fock builds take
    the densities' orbitals (`occupied`) beside them (fitted exchange and, in polarised
    bases, the density on the grid are cheaper so).

    With float64 inputs the final evaluation is one more step of the loop (`SCFState.final`):
    the program then holds the Fock build twice (the guess's and the loop's), not three
    times, which is a third less to compile for every new molecule shape."""
    nao = inputs.h.shape[-1]
    dtype = inputs.h.dtype
    evaluate = dtype == jnp.float64
    fock0, energy0 = fock_and_energy(inputs.dm0, inputs, settings.xc, inputs.dm0_orbitals)
    history0 = jnp.zeros(settings.max_iter, dtype)
    diis0 = DIIS.empty(max(settings.diis_space, 1), nao, dtype)
    converge = settings.mode == "converge"

    def iterating(cycle, done):
        keep_going = cycle < settings.max_iter
        return keep_going & ~done if converge else keep_going

    def body(carry):
        cycle, dm, last_fock, energy, history, diis, done, grad_norm, final = carry
        # past the last iteration: the final evaluation, the last Fock matrix as it is
        last = ~iterating(cycle, done)
        error = commutator(last_fock, dm, inputs.s, inputs.x)
        fock = last_fock
        if settings.diis_space > 0:
            use = (cycle + 1 >= settings.diis_start) & ~last
            pushed = diis.push(fock, error)
            diis = jax.tree.map(lambda a, b: jnp.where(use, a, b), pushed, diis)
            fock = jnp.where(use, diis.extrapolate(), fock)
        if settings.level_shift:
            shifted = fock + settings.level_shift * (inputs.s - 0.5 * inputs.s @ dm @ inputs.s)
            fock = jnp.where(last, fock, shifted)
        _, c = solve_fock(fock, inputs.x)
        new_dm = density(c, inputs.occ)
        orbitals = None if n_orbitals is None else occupied(c, inputs.occ, n_orbitals)
        new_fock, new_energy = fock_and_energy(new_dm, inputs, settings.xc, orbitals)
        if final is not None:
            final = jax.tree.map(lambda a, b: jnp.where(last, a, b),
                                 (new_dm, new_fock, new_energy, True), final)
            # the final step leaves the iterations' state as it was
            new_dm, new_fock, new_energy = jax.tree.map(
                lambda a, b: jnp.where(last, a, b), (dm, last_fock, energy),
                (new_dm, new_fock, new_energy))
        new_grad = jnp.linalg.norm(commutator(new_fock, new_dm, inputs.s, inputs.x))
        new_done = (jnp.abs(new_energy - energy) < settings.conv_tol) & (
            new_grad < settings.gradient_tolerance
        )
        history = jnp.where(~last & (jnp.arange(settings.max_iter) >= cycle), new_energy, history)
        cycle, done, grad_norm = jax.tree.map(lambda a, b: jnp.where(last, a, b),
                                              (cycle, done, grad_norm),
                                              (cycle + 1, new_done, new_grad))
        return cycle, new_dm, new_fock, new_energy, history, diis, done, grad_norm, final

    def cond(carry):
        cycle, done, final = carry[0], carry[6], carry[8]
        return iterating(cycle, done) | (~final[3] if evaluate else False)

    # (dm, fock, energy, made) of the final evaluation
    final0 = (jnp.zeros_like(inputs.dm0), jnp.zeros_like(fock0), energy0, jnp.zeros((), bool))
    start = (jnp.zeros((), jnp.int32), inputs.dm0, fock0, energy0, history0, diis0,
             jnp.zeros((), bool), jnp.asarray(jnp.inf, dtype), final0 if evaluate else None)
    cycles, dm, fock, energy, history, _, done, grad_norm, final = jax.lax.while_loop(
        cond, body, start)
    if evaluate:
        final = (*final[:3], *solve_fock(final[1], inputs.x))
    return SCFState(dm, fock, energy, history, cycles, done, grad_norm, final)


@executables.jit(static_argnames=("xc_name", "n_orbitals"))
def final_evaluation(last_fock, inputs: SCFInputs, xc_name: str, n_orbitals: int | None = None):
    """Density, Fock matrix, total energy and orbitals from the last Fock matrix, once.
    n_orbitals: as `iterate` takes it (fitted exchange from the orbitals).

    The last Fock matrix is diagonalised once more (no DIIS) and its aufbau density taken,
    as PySCF does after convergence. The float32 path calls this with float64 inputs (the
    qm1b preset's final evaluation): re-solving in float64 restores an idempotent density,
    so the energy error is second order in the float32 orbital error instead of first
    order in the float32 loss of orthonormality.

    Returns (dm, fock, energy, mo_energy, mo_coeff).
    """
    _, c = solve_fock(last_fock, inputs.x)
    dm = density(c, inputs.occ)
    orbitals = None if n_orbitals is None else occupied(c, inputs.occ, n_orbitals)
    fock, energy = fock_and_energy(dm, inputs, xc_name, orbitals)
    mo_energy, mo_coeff = solve_fock(fock, inputs.x)
    return dm, fock, energy, mo_energy, mo_coeff


def final_results(state: SCFState, inputs: SCFInputs, xc_name: str,
                  n_orbitals: int | None = None):
    """What `final_evaluation` returns for a finished state: the iterations' last step where
    they made it (`SCFState.final`), else made now from the last Fock matrix on `inputs`
    (float64: the final evaluation's)."""
    if state.final is not None:
        return state.final
    return final_evaluation(on_device(state.fock, inputs.h.dtype), inputs, xc_name,
                            n_orbitals)
