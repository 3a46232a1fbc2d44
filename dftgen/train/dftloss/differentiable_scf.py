"""From a predicted Hamiltonian to a density and its DFT energy, differentiably.

The predicted Hamiltonian H is diagonalised in the orthogonalised basis (X^T H X, with
X^T S X = 1) and its lowest orbitals occupied (aufbau): D_0. A few Roothaan steps follow,
each rebuilding the Fock matrix F[D] (J, K and XC: all differentiable in D) and occupying its
lowest orbitals; the last step takes the 50/50 mixture of the two previous densities, which
damps the charge sloshing that plain Roothaan steps are prone to (Mathiasen et al. 2024 use
the same recipe). Every D_t is idempotent with trace N in the S metric (D S D = 2 D), a
valid closed-shell density, so its energy E[D_t] is an upper bound on the converged SCF
energy at the same settings: the loss of the DFT-loss route, and why predictions can be
checked against the bound.

    steps = 0:  D = D_0
    steps = 1:  D = aufbau(F[D_0])
    steps = n:  D_t = aufbau(F[D_{t-1}]) for t < n, then D_n = aufbau(F[(D_{n-1} + D_{n-2}) / 2])

The density of H depends only on H's occupied subspace, so it is unchanged by H -> a H + b S
(a > 0) and by any change inside the occupied or virtual space: a loss of the density alone
leaves the network's output scale free, and an optimiser drifts along that flat direction
until H's spectrum is hundreds of Hartree wide and a small step reorders its occupations.
The self-consistency residual |X^T (H - F[D_0]) X|^2 (Frobenius, Hartree^2) pins that
freedom: it is zero exactly when H is the Fock matrix of its own density, as at a converged
SCF, where the energy is lowest too, so adding it to a loss does not move the optimum.

Energies in Hartree; matrices (nao, nao) in the AO basis.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dftgen.scf.iterations import SCFInputs, density, fock_and_energy
from dftgen.train.dftloss.safe_eigh import safe_eigh

MIXING = 0.5


class Prediction(NamedTuple):
    """dm: the final density.  fock: F[dm].  energy: E[dm], total, Hartree.
    residual: |X^T (H - F[D_0]) X|^2 of the predicted H, Hartree^2."""

    dm: jax.Array
    fock: jax.Array
    energy: jax.Array
    residual: jax.Array


def aufbau(hamiltonian, inputs: SCFInputs, broadening: float):
    """Orbital energies (nao,) of H C = S C e and the density of its lowest orbitals."""
    e, c = safe_eigh(inputs.x.T @ hamiltonian @ inputs.x, broadening)
    return e, density(inputs.x @ c, inputs.occ)


def refine(hamiltonian, inputs: SCFInputs, functional: str, steps: int = 2,
           broadening: float = 1e-10) -> Prediction:
    """The density after `steps` SCF-like steps from `hamiltonian`, with F and E of it and
    the self-consistency residual of `hamiltonian`."""
    _, dm = aufbau(hamiltonian, inputs, broadening)
    fock, energy = fock_and_energy(dm, inputs, functional)
    difference = inputs.x.T @ (hamiltonian - fock) @ inputs.x
    for t in range(1, steps + 1):
        previous, (_, dm) = dm, aufbau(fock, inputs, broadening)
        if t == steps - 1:  # the last step starts from the mixture, which damps sloshing
            fock, _ = fock_and_energy(MIXING * dm + (1.0 - MIXING) * previous, inputs, functional)
        else:
            fock, energy = fock_and_energy(dm, inputs, functional)
    return Prediction(dm, fock, energy, jnp.sum(difference * difference))


def orbital_energies(fock, inputs: SCFInputs, broadening: float = 1e-10):
    """Orbital energies (nao,) ascending of F C = S C e, Hartree."""
    return aufbau(fock, inputs, broadening)[0]


def frontier(fock, inputs: SCFInputs, broadening: float = 1e-10):
    """(HOMO, LUMO) orbital energies of F, Hartree. The occupied count is read from the
    occupation vector, so molecules of one shape bucket may hold different electron counts
    (C2H2 and CH2O share a basis structure) under vmap."""
    e = orbital_energies(fock, inputs, broadening)
    n_occ = jnp.sum(inputs.occ > 0)
    return e[n_occ - 1], e[n_occ]
