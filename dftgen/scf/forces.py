"""Nuclear forces of a converged restricted Kohn-Sham / Hartree-Fock calculation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import grids, integrals, xc
from dftgen.integrals import df
from dftgen.presets import Settings
from dftgen.scf.problem import Setup


def forces(setup: Setup, settings: Settings, dm, mo_energy, mo_coeff, occ) -> np.ndarray:
    """-dE/dR (natoms, 3) in Hartree/Bohr at the final density D (nao, nao), by JAX autodiff
    (no differentiation through the iterations); mo_energy and occ (nao,), mo_coeff (nao, nao).

    With D held fixed, the energy's dependence on R through the orthonormality constraint
    C^T S C = 1 gives the Pulay term: dE/dR = dE/dR|_D - tr(W dS/dR) with the energy-weighted
    density W = sum_i occ_i e_i C_i C_i^T. The grid stays fixed in space (no grid response),
    as in PySCF's default analytic gradients. With density-fitted ERIs (setup.auxbasis) the
    fitted energy is differentiated, the auxiliary functions moving with their atoms (PySCF's
    DF gradients with auxbasis_response), a range-separated functional's long-range exchange
    from its own fit of erf(omega r)/r.
    """
    functional = xc.functional(settings.xc)
    w = jnp.asarray((mo_coeff * (occ * mo_energy)) @ mo_coeff.T)
    dm = jnp.asarray(dm)
    grid, bas = setup.grid, setup.basis
    points = None if grid is None else jnp.asarray(grid.points)
    weights = None if grid is None else jnp.asarray(grid.weights, jnp.float64)

    def lagrangian(positions):
        mol = setup.mol.with_positions(positions)
        s = integrals.overlap(mol, bas, precision="float64")
        h = integrals.kinetic(mol, bas, precision="float64") + integrals.nuclear(
            mol, bas, precision="float64")
        j, k = integrals.jk(_two_electron_integrals(mol, bas, setup.auxbasis, 0.0), dm)
        energy = (jnp.vdot(dm, h) + 0.5 * jnp.vdot(dm, j)
                  - 0.25 * functional.hybrid * jnp.vdot(dm, k)
                  + integrals.nuclear_repulsion(mol) - jnp.vdot(w, s))
        if functional.is_range_separated:
            eri_lr = _two_electron_integrals(mol, bas, setup.auxbasis, functional.omega)
            k_lr = integrals.jk(eri_lr, dm)[1]
            energy = energy - 0.25 * functional.long_range * jnp.vdot(dm, k_lr)
        if functional.terms:
            ao = grids.ao_values(mol, bas, points, deriv=1 if functional.is_gga else 0,
                                 precision="float64")
            energy = energy + xc.vxc(settings.xc, ao, weights, dm, precision="float64")[1]
        return energy

    positions = jnp.asarray(setup.mol.positions, jnp.float64)
    return -np.asarray(jax.grad(lagrangian)(positions))


def _two_electron_integrals(mol, bas, auxbasis, omega: float):
    """float64 ERIs of 1/r (omega 0) or erf(omega r)/r: exact, or fitted with `auxbasis`."""
    if auxbasis is None:
        return integrals.eri(mol, bas, precision="float64", omega=omega)
    return df.fitted_eri(mol, bas, auxbasis, omega)
