"""Nuclear forces of a converged restricted Kohn-Sham / Hartree-Fock calculation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables, integrals, xc
from dftgen.grids import AOSource
from dftgen.integrals import df_gradient
from dftgen.integrals.one_electron_gradient import one_electron_gradient
from dftgen.presets import Settings
from dftgen.scf.problem import Setup

#: float64 AO values (with derivatives) of the grid points one XC-gradient call takes: the
#: backward pass holds several times these, and chunks this small stay in cache
XC_GRADIENT_CHUNK_BYTES = 8 << 20


def forces(setup: Setup, settings: Settings, dm, mo_energy, mo_coeff, occ) -> np.ndarray:
    """-dE/dR (natoms, 3) in Hartree/Bohr at the final density D (nao, nao); mo_energy and
    occ (nao,), mo_coeff (nao, nao).

    With D held fixed (no differentiation through the iterations), the energy's dependence
    on R through the orthonormality constraint C^T S C = 1 gives the Pulay term:
    dE/dR = dE/dR|_D - tr(W dS/dR) with the energy-weighted density
    W = sum_i occ_i e_i C_i C_i^T. Each part of the energy is differentiated on its own
    (JAX autodiff), so that one part's intermediates are held at a time: the one-electron
    terms contracted with D and W (`one_electron_gradient`) and the density-fitted
    two-electron energy contracted with weights made from the fit (`df_gradient`, the
    auxiliary functions moving with their atoms as in PySCF's DF gradients), both through
    programs every molecule size shares; the exact ERIs' energy through the traced ERIs;
    the XC energy one chunk of grid points at a time. The grid stays fixed in space (no
    grid response), as in PySCF's default analytic gradients. A range-separated
    functional's long-range exchange comes from the ERIs (or the fit) of erf(omega r)/r.
    """
    functional = xc.functional(settings.xc)
    dm = np.asarray(dm, np.float64)
    w = (mo_coeff * (occ * mo_energy)) @ mo_coeff.T
    gradient = _one_electron_gradient(setup, dm, w)
    if setup.auxbasis is None:
        gradient = gradient + _exact_two_electron_gradient(setup, functional, jnp.asarray(dm))
    else:
        gradient = gradient + _fitted_two_electron_gradient(setup, functional, dm)
    if functional.terms:
        gradient = gradient + _xc_gradient(setup, settings.xc, dm)
    return -gradient


def _one_electron_gradient(setup: Setup, dm: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d/dR (natoms, 3) of tr(D h) + E_nuc - tr(W S)."""
    repulsion = jax.grad(lambda positions: integrals.nuclear_repulsion(
        setup.mol.with_positions(positions)))(_positions(setup))
    return (one_electron_gradient(*integrals.layout_and_arrays(setup.mol, setup.basis), dm, w)
            + np.asarray(repulsion))


def _exact_two_electron_gradient(setup: Setup, functional: xc.Functional, dm) -> np.ndarray:
    """d/dR (natoms, 3) of tr(D J)/2 - hybrid tr(D K)/4 - long_range tr(D K_lr)/4 from the
    exact ERIs (of erf(omega r)/r for K_lr)."""
    def energy(positions):
        mol, bas = setup.mol.with_positions(positions), setup.basis
        j, k = integrals.jk(integrals.eri(mol, bas, precision="float64"), dm)
        e = 0.5 * jnp.vdot(dm, j) - 0.25 * functional.hybrid * jnp.vdot(dm, k)
        if functional.is_range_separated:
            k_lr = integrals.jk(integrals.eri(mol, bas, precision="float64",
                                              omega=functional.omega), dm)[1]
            e = e - 0.25 * functional.long_range * jnp.vdot(dm, k_lr)
        return e
    return np.asarray(jax.grad(energy)(_positions(setup)))


def _fitted_two_electron_gradient(setup: Setup, functional: xc.Functional, dm: np.ndarray
                                  ) -> np.ndarray:
    """`_exact_two_electron_gradient` with the ERIs fitted in setup.auxbasis."""
    orbitals = _orbitals_of(dm)
    gradient = df_gradient.gradient(setup.mol, setup.basis, setup.auxbasis, orbitals, 1.0,
                                    functional.hybrid)
    if functional.is_range_separated:
        gradient = gradient + df_gradient.gradient(setup.mol, setup.basis, setup.auxbasis,
                                                   orbitals, 0.0, functional.long_range,
                                                   functional.omega)
    return gradient


def _orbitals_of(dm: np.ndarray) -> np.ndarray:
    """C (nao, m) with D = C C^T for a density D (nao, nao) of m occupied orbitals: its
    eigenvectors of non-negligible eigenvalue, times their square roots."""
    w, v = np.linalg.eigh(dm)
    kept = w > 1e-10 * w[-1]
    return v[:, kept] * np.sqrt(w[kept])


def _xc_gradient(setup: Setup, xc_name: str, dm: np.ndarray) -> np.ndarray:
    """d/dR (natoms, 3) of E_xc[D] on setup's grid (fixed in space), one chunk of points at
    a time: E_xc is a sum over the points, and a chunk's AO values and their derivatives
    are all that its gradient holds."""
    functional = xc.functional(xc_name)
    source = AOSource.of(setup.mol, setup.basis, setup.grid.points,
                         deriv=1 if functional.is_gga else 0)
    per_point = (1 + 3 * source.deriv) * setup.basis.nao * 8
    chunk = min(max(256, XC_GRADIENT_CHUNK_BYTES // per_point // 256 * 256), source.npts)
    weights = np.asarray(setup.grid.weights, np.float64)
    orbitals = jnp.asarray(_orbitals_of(dm))
    gradient = np.zeros((setup.mol.natoms, 3))
    for start in range(0, source.npts, chunk):
        part = dataclasses.replace(source, points=source.points[start:start + chunk])
        w = np.zeros(chunk)
        w[:part.npts] = weights[start:start + chunk]  # the last chunk padded with weight 0
        gradient += np.asarray(_xc_chunk_gradient(xc_name, part.padded(chunk), jnp.asarray(w),
                                                  jnp.asarray(dm), orbitals))
    return gradient


@executables.jit(static_argnums=0)
def _xc_chunk_gradient(xc_name: str, source: AOSource, weights, dm, orbitals):
    """d/dR (natoms, 3) of E_xc on the points of `source` with their weights (npts,)."""
    def energy(positions):
        moved = dataclasses.replace(source, positions=positions)
        return xc.vxc(xc_name, moved, weights, dm, orbitals=orbitals)[1]
    return jax.grad(energy)(source.positions)


def _positions(setup: Setup) -> jnp.ndarray:
    return jnp.asarray(setup.mol.positions, jnp.float64)
