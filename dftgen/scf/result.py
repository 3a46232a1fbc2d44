"""`DFTResult` and how one is made from the last SCF state (`finish`)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from dftgen import dispersion, xc
from dftgen.elements import DEBYE_AU, HARTREE_EV
from dftgen.presets import Settings
from dftgen.scf.forces import forces
from dftgen.scf.iterations import final_results
from dftgen.scf.problem import Problem, timed


class SCFNotConvergedWarning(UserWarning):
    """A calculation ended without meeting its convergence criterion."""


@dataclasses.dataclass
class DFTResult:
    """The outcome of one restricted Kohn-Sham or Hartree-Fock calculation.

    Energies in Hartree, dipole in Debye, forces in Hartree/Bohr (-dE/dR), charges in e.
    energy_ha includes the dispersion correction `dispersion_ha` (0 for functionals without
    one), as PySCF's e_tot does; energy_history holds the SCF's energies without it.
    mo_energy is (nao,) ascending; mo_coeff (nao, nao) and dm (nao, nao) are kept when asked.
    converged: converge mode: both tolerances met; fixed mode: std of the last five
    iteration energies below the preset's threshold (QM1B's proxy).
    two_electron_method: "exact" or "df" (Settings.eri resolved for this molecule), with
    auxbasis the auxiliary basis set's name for "df" (else None).
    """

    energy_ha: float
    homo_ha: float
    lumo_ha: float
    gap_ha: float
    mo_energy: np.ndarray
    dipole_debye: np.ndarray
    mulliken_charges: np.ndarray
    converged: bool
    iterations: int
    energy_history: np.ndarray
    energy_std_last5_ev: float
    nao: int
    settings: Settings
    timings: dict[str, float]
    mo_coeff: np.ndarray | None = None
    dm: np.ndarray | None = None
    forces_ha_bohr: np.ndarray | None = None
    dispersion_ha: float = 0.0
    device: dict | None = None  # the device layer's admission report, when a device was given
    two_electron_method: str = "exact"
    auxbasis: str | None = None

    @property
    def gap_ev(self) -> float:
        return self.gap_ha * HARTREE_EV

    def to_dict(self) -> dict:
        """A JSON-ready summary; every key names its unit."""
        out = {
            "energy_ha": self.energy_ha,
            "homo_ha": self.homo_ha,
            "lumo_ha": self.lumo_ha,
            "gap_ha": self.gap_ha,
            "gap_ev": self.gap_ev,
            "dispersion_ha": self.dispersion_ha,
            "converged": self.converged,
            "iterations": self.iterations,
            "energy_std_last5_ev": self.energy_std_last5_ev,
            "nao": self.nao,
            "dipole_debye": self.dipole_debye.tolist(),
            "mulliken_charges_e": self.mulliken_charges.tolist(),
            "forces_ha_bohr": None if self.forces_ha_bohr is None else self.forces_ha_bohr.tolist(),
            "two_electron_method": self.two_electron_method,
            "auxbasis": self.auxbasis,
            "timings_s": self.timings,
            "settings": dataclasses.asdict(self.settings),
        }
        if self.device is not None:
            out["device"] = self.device
        return out



def finish(p: Problem, state, settings: Settings, want_forces: bool, keep: bool,
           n_orbitals: int | None = None) -> DFTResult:
    """The result of one molecule from its last SCF state: energies and orbitals re-evaluated
    once (in float64 when the iterations ran in float32), dipole, Mulliken charges, and the
    forces when wanted. n_orbitals: as the iterations took it (`iterate`)."""
    final_inputs = p.exact if p.exact is not None else p.work
    with timed(p.timings, "final_s"):
        dm, _, energy, mo_energy, mo_coeff = final_results(state, final_inputs, settings.xc,
                                                           n_orbitals)
        mo_energy = np.asarray(mo_energy, dtype=np.float64)
    history = np.asarray(state.history, dtype=np.float64)
    cycles = int(state.cycles)
    std_ev = float(np.std(history[max(cycles - 5, 0):cycles]) * HARTREE_EV)
    if settings.mode == "converge":
        converged = bool(state.converged)
    else:
        converged = std_ev < settings.std_threshold_ev
    if not converged:
        warnings.warn(
            f"molecule {p.mol.name!r}: SCF not converged after {cycles} iterations "
            f"(std of last five energies {std_ev:.2e} eV, commutator norm "
            f"{float(state.grad_norm):.2e})", SCFNotConvergedWarning, stacklevel=3)
    dm64 = np.asarray(dm, dtype=np.float64)
    s64 = np.asarray(final_inputs.s, dtype=np.float64)
    n = p.setup.n_occ
    e_disp, g_disp = _dispersion(p.mol, settings.xc)
    result = DFTResult(
        energy_ha=float(energy) + e_disp,
        homo_ha=float(mo_energy[n - 1]),
        lumo_ha=float(mo_energy[n]) if n < len(mo_energy) else float("nan"),
        gap_ha=float(mo_energy[n] - mo_energy[n - 1]) if n < len(mo_energy) else float("nan"),
        mo_energy=mo_energy,
        dipole_debye=_dipole(p.mol, p.dipole, dm64),
        mulliken_charges=_mulliken(p.mol, p.basis, dm64, s64),
        converged=converged,
        iterations=cycles,
        energy_history=history[:cycles],
        energy_std_last5_ev=std_ev,
        nao=p.basis.nao,
        settings=settings,
        timings=dict(p.timings),
        mo_coeff=np.asarray(mo_coeff, dtype=np.float64) if keep else None,
        dm=dm64 if keep else None,
        device=p.report,
        dispersion_ha=e_disp,
        two_electron_method=p.setup.two_electron_method,
        auxbasis=None if p.setup.auxbasis is None else p.setup.auxbasis.name,
    )
    if want_forces:
        with timed(p.timings, "forces_s"):
            result.forces_ha_bohr = forces(p.setup, settings, dm64, mo_energy,
                                           np.asarray(mo_coeff, dtype=np.float64),
                                           np.asarray(p.work.occ, dtype=np.float64)) - g_disp
        result.timings = dict(p.timings)
    return result


def _dispersion(mol, xc_name: str) -> tuple[float, np.ndarray | float]:
    """(energy, gradient (natoms, 3)) of the functional's dispersion correction; (0, 0)
    without one."""
    parameters = xc.functional(xc_name).d3bj
    if parameters is None:
        return 0.0, 0.0
    return dispersion.d3bj(mol.numbers, np.asarray(mol.positions), parameters)


def _mulliken(mol, bas, dm, s) -> np.ndarray:
    """Mulliken charges (natoms,): Z_A minus the AO populations diag(D S) on atom A."""
    population = np.einsum("ij,ji->i", dm, s)
    return mol.numbers - np.bincount(bas.ao_atom, weights=population, minlength=mol.natoms)


def _dipole(mol, r: np.ndarray, dm) -> np.ndarray:
    """Dipole moment (3,) in Debye about the origin: sum_A Z_A R_A - tr(D r), r the position
    integrals (3, nao, nao) about the origin."""
    nuclear = mol.numbers @ np.asarray(mol.positions, dtype=np.float64)
    electronic = np.einsum("xij,ji->x", r, dm)
    return (nuclear - electronic) * DEBYE_AU
