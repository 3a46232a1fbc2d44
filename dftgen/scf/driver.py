"""`run_dft` and `run_dft_batch`: from a Molecule to energies, orbitals and forces.

The driver assembles each molecule's arrays (integrals, grid, AO values, initial guess) on
the host, runs the compiled iterations (`dftgen.scf.iterations.iterate`), and evaluates the
final energy and orbital energies once more: in float64 when the iterations ran in float32
(the qm1b preset). `run_dft_batch` groups molecules by shape bucket (equal basis structure),
pads their grids to one size with zero-weight points, and runs each bucket through one
vmapped, compiled program; padding never changes a number.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import basis as basis_mod
from dftgen import device as device_layer
from dftgen import grids, guess, integrals, xc
from dftgen.elements import DEBYE_AU, HARTREE_EV
from dftgen.integrals import symmetric
from dftgen.integrals.multipole import dipole
from dftgen.integrals.symmetric import SymmetricBlocks
from dftgen.molecule import Molecule, MoleculeError
from dftgen.precision import Float32Pair
from dftgen.precision import dtype as precision_dtype
from dftgen.presets import Settings, resolve
from dftgen.scf.iterations import SCFInputs, final_evaluation, iterate, orthogonaliser

GRID_PAD_MULTIPLE = 256  # batched grids are padded to a multiple of this many points


def _pair_eri_budget() -> int:
    """Bytes up to which the SCF holds ERIs as Raffenetti's P supermatrix, else packed (J/K
    then unpack them every build, ~50x slower): an eighth of the machine's memory, at least
    1 GiB (24 GiB: float64 up to nao 237; the accurate preset's 10-heavy-atom 6-31G*
    molecule has nao 156)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    return max(memory // 8, 1 << 30)


PAIR_ERI_BYTES = _pair_eri_budget()


class SCFNotConvergedWarning(UserWarning):
    """A calculation ended without meeting its convergence criterion."""


@dataclasses.dataclass
class DFTResult:
    """The outcome of one restricted Kohn-Sham or Hartree-Fock calculation.

    Energies in Hartree, dipole in Debye, forces in Hartree/Bohr (-dE/dR), charges in e.
    mo_energy is (nao,) ascending; mo_coeff (nao, nao) and dm (nao, nao) are kept when asked.
    converged: converge mode: both tolerances met; fixed mode: std of the last five
    iteration energies below the preset's threshold (QM1B's proxy).
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
    device: dict | None = None  # the device layer's admission report, when a device was given

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
            "converged": self.converged,
            "iterations": self.iterations,
            "energy_std_last5_ev": self.energy_std_last5_ev,
            "nao": self.nao,
            "dipole_debye": self.dipole_debye.tolist(),
            "mulliken_charges_e": self.mulliken_charges.tolist(),
            "forces_ha_bohr": None if self.forces_ha_bohr is None else self.forces_ha_bohr.tolist(),
            "timings_s": self.timings,
            "settings": dataclasses.asdict(self.settings),
        }
        if self.device is not None:
            out["device"] = self.device
        return out


@dataclasses.dataclass
class Prepared:
    """One molecule's arrays: `work` in the iteration precision, `exact` in float64."""

    mol: Molecule
    basis: basis_mod.BasisSet
    grid: grids.Grid | None
    work: SCFInputs
    exact: SCFInputs | None
    n_occ: int
    timings: dict[str, float]


def run_dft(mol: Molecule, preset: str | Settings = "qm1b", *, forces: bool = False,
            keep_orbitals: bool = False, device=None, **overrides) -> DFTResult:
    """Restricted Kohn-Sham (or Hartree-Fock, xc="hf") for one molecule.

    Args:
        mol: a closed-shell molecule.
        preset: "qm1b", "accurate" or a Settings object; keyword overrides win
            (basis, xc, grid_level, precision, mode, max_iter, conv_tol, diis_space, ...).
        forces: also return forces, -dE/dR in Hartree/Bohr, by JAX autodiff of the energy
            at the final density.
        keep_orbitals: keep mo_coeff and the density matrix in the result.
        device: None (JAX's default backend), a name ("cpu", "gpu", "ipu-bow", "ipu-gc200")
            or a `dftgen.device.Device`. On an emulated IPU every molecule is admitted by the
            device layer first (float32 only, memory, tiles), which raises
            `dftgen.device.DeviceError` with the reason when it does not fit.
    """
    return run_dft_batch([mol], preset, forces=forces, keep_orbitals=keep_orbitals,
                         device=device, **overrides)[0]


def run_dft_batch(mols: list[Molecule], preset: str | Settings = "qm1b", *, forces: bool = False,
                  keep_orbitals: bool = False, device=None, **overrides) -> list[DFTResult]:
    """`run_dft` for many molecules, one compiled program per shape bucket; results in input
    order. Molecules of a bucket share the basis structure; their grids are padded to one
    size with zero-weight points. With a device of n > 1 (an emulated IPU Pod), each bucket's
    molecules are split across the n devices."""
    settings = resolve(preset, **overrides)
    if isinstance(device, str):
        device = device_layer.get(device)
    with _on(device):
        return _run(mols, settings, forces, keep_orbitals, device)


def _on(device):
    """Place computations on the device's first JAX device (emulated IPUs run on the host)."""
    if device is None:
        return contextlib.nullcontext()
    return jax.default_device(device.jax_devices[0])


def _run(mols, settings: Settings, forces: bool, keep_orbitals: bool, device) -> list[DFTResult]:
    """Bucket by bucket: a bucket's arrays (the P supermatrix: 25 MB a molecule at nao 69)
    are prepared, iterated and released before the next bucket's are made."""
    ipu = device is not None and device.is_ipu
    bases = [basis_mod.build(mol, settings.basis) for mol in mols]
    if ipu:
        for mol, bas in zip(mols, bases):  # refuse what cannot fit before paying for integrals
            npts = grids.build(mol, settings.grid_level).size if xc.functional(settings.xc).terms else 0
            device.check_fits(mol, bas, settings, npts)
    buckets: dict[tuple, list[int]] = {}
    for i, bas in enumerate(bases):
        buckets.setdefault(bas.shape_key, []).append(i)
    results: list[DFTResult | None] = [None] * len(mols)
    for indices in buckets.values():
        group = [prepare(mols[i], settings, device_float32_eri=ipu) for i in indices]
        admissions = [None if device is None else device.admit(p.mol, p.basis, p.work, settings)
                      for p in group]
        start = time.perf_counter()
        states = jax.block_until_ready(_iterate_bucket([p.work for p in group], settings, device))
        elapsed = (time.perf_counter() - start) / len(group)
        for k, (i, p, admission) in enumerate(zip(indices, group, admissions)):
            state = jax.tree.map(lambda a: a[k], states)
            p.timings["scf_s"] = elapsed
            results[i] = _finish(p, state, settings, forces, keep_orbitals)
            if admission is not None:
                results[i].device = admission.as_dict()
    return results


# -- preparation ---------------------------------------------------------------------------


def prepare(mol: Molecule, settings: Settings, device_float32_eri: bool = False) -> Prepared:
    """One molecule's arrays for the SCF: integrals, grid, AO values, guess.

    In float32 precision the ERIs are computed in float64 and rounded once: the float32 ERI
    kernel's errors, although within 3e-7 of the largest integral, are slightly biased, and
    the Coulomb energy (hundreds of Hartree) sums them coherently into ~1e-4 Ha in the final
    energy, while correctly rounded ERIs leave ~1e-6 Ha. `device_float32_eri` (IPU mode,
    float32 only) computes them in float32, as the device would.
    """
    if mol.spin != 0 or mol.n_electrons % 2:
        raise MoleculeError(
            f"molecule {mol.name!r}: restricted Kohn-Sham needs a closed shell, but it has "
            f"{mol.n_electrons} electrons and spin {mol.spin}"
        )
    timings: dict[str, float] = {}
    spec = xc.functional(settings.xc)
    bas = basis_mod.build(mol, settings.basis)
    n_occ = mol.n_electrons // 2
    if n_occ > bas.nao:
        raise MoleculeError(f"molecule {mol.name!r}: {n_occ} occupied orbitals but nao={bas.nao}")
    work_dtype = precision_dtype(settings.precision)
    exact_needed = settings.precision != "float64"

    with _timed(timings, "one_electron_s"):
        s64, t64, v64 = (np.asarray(a) for a in
                         integrals.one_electron_integrals(mol, bas, precision="float64"))
        h64 = t64 + v64
        e_nuc = float(integrals.nuclear_repulsion(mol))
    with _timed(timings, "eri_s"):
        eri_precision = settings.precision if device_float32_eri else "float64"
        computed = integrals.eri(mol, bas, precision=eri_precision)
        npair = bas.nao * (bas.nao + 1) // 2
        if symmetric.stored_elements(npair) * computed.dtype.itemsize <= PAIR_ERI_BYTES:
            # built once: each Fock build is then one pass over nao^4/8 values; float32
            # iterations take it rounded once and the final evaluation whole, from one
            # Float32Pair (hi is the rounded P)
            split = exact_needed and computed.dtype == jnp.float64
            computed = integrals.fock_supermatrix(computed, bas.nao, spec.hybrid, split)
        eri, exact_eri = _two_precisions(computed, work_dtype)
        # the float64 evaluation's half (a Float32Pair's lo) is left to finish while the
        # host builds the grid: it is needed only at the end
        jax.block_until_ready(eri)
    grid = None
    ao64 = jnp.zeros((1, bas.nao, 1), jnp.float64)
    weights = np.zeros(1)
    if spec.terms:
        with _timed(timings, "grid_s"):
            grid = grids.build(mol, settings.grid_level)
        with _timed(timings, "ao_s"):
            # float32 iterations take the float64 values rounded once, as S and h
            ao64 = grids.ao_values(mol, bas, grid.points, deriv=1 if spec.is_gga else 0,
                                   precision="float64", ao_major=True)
            ao64 = ao64 if spec.is_gga else ao64[None]
            ao64.block_until_ready()
        weights = grid.weights
    ao = ao64.astype(work_dtype)
    with _timed(timings, "guess_s"):
        dm0 = guess.minao(mol, bas, s64) if settings.init_guess == "minao" else guess.core(h64, s64, n_occ)
        x64 = np.asarray(orthogonaliser(jnp.asarray(s64, jnp.float64), settings.orthogonalisation))
    occ = np.zeros(bas.nao)
    occ[:n_occ] = 2.0

    def inputs(dt, eri_array, ao_array):
        return SCFInputs(
            h=jnp.asarray(h64, dt), s=jnp.asarray(s64, dt), x=jnp.asarray(x64, dt), eri=eri_array,
            ao=ao_array, weights=jnp.asarray(weights, dt), dm0=jnp.asarray(dm0, dt),
            occ=jnp.asarray(occ, dt), e_nuc=jnp.asarray(e_nuc, dt),
        )

    work = inputs(work_dtype, eri, ao)
    exact = inputs(jnp.float64, exact_eri, ao64) if exact_needed else None
    return Prepared(mol, bas, grid, work, exact, n_occ, timings)


def _two_precisions(x, work_dtype):
    """(ERIs in the iteration precision, ERIs for the float64 final evaluation): P as a
    Float32Pair gives its hi and itself, plain arrays themselves converted both ways."""
    if isinstance(x, SymmetricBlocks) and isinstance(x.blocks, Float32Pair):
        return SymmetricBlocks(x.blocks.hi), x
    return tuple(jax.tree.map(lambda a: a.astype(dt), x) for dt in (work_dtype, jnp.float64))


@contextlib.contextmanager
def _timed(timings: dict[str, float], key: str):
    """Add the wall-clock seconds of the enclosed phase to timings[key]."""
    start = time.perf_counter()
    yield
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - start


# -- iterations ----------------------------------------------------------------------------


def _iterate_bucket(inputs: list[SCFInputs], settings: Settings, device=None):
    """Run one bucket: a single molecule directly, several through one vmapped program (split
    across the devices of a Pod)."""
    pod = device is not None and device.n > 1
    if len(inputs) == 1 and not pod:
        state = iterate(inputs[0], settings.xc, settings)
        return jax.tree.map(lambda a: a[None], state)
    npts = max(i.weights.shape[0] for i in inputs)
    npts = -(-npts // GRID_PAD_MULTIPLE) * GRID_PAD_MULTIPLE
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[_pad_grid(i, npts) for i in inputs])
    if pod:
        return device.map_batch(_iterate_one(settings.xc, settings), stacked)
    return _batched_iterate(settings.xc, settings)(stacked)


@functools.lru_cache(maxsize=None)
def _iterate_one(functional: str, settings: Settings):
    """The SCF of one molecule with its static arguments bound (one object per setting, so
    compiled programs are reused)."""
    return functools.partial(iterate, functional=functional, settings=settings)


@functools.lru_cache(maxsize=None)
def _batched_iterate(functional: str, settings: Settings):
    return jax.jit(jax.vmap(_iterate_one(functional, settings)))


def _pad_grid(inputs: SCFInputs, npts: int) -> SCFInputs:
    """Zero-weight, zero-valued grid points up to npts: they add nothing to any integral."""
    extra = npts - inputs.weights.shape[0]
    if extra == 0:
        return inputs
    ao = jnp.pad(inputs.ao, [(0, 0), (0, 0), (0, extra)])
    return inputs._replace(ao=ao, weights=jnp.pad(inputs.weights, (0, extra)))


# -- results -------------------------------------------------------------------------------


def _finish(p: Prepared, state, settings: Settings, want_forces: bool, keep: bool) -> DFTResult:
    final_inputs = p.exact if p.exact is not None else p.work
    with _timed(p.timings, "final_s"):
        last_fock = jnp.asarray(state.fock, final_inputs.h.dtype)
        dm, _, energy, mo_energy, mo_coeff = final_evaluation(last_fock, final_inputs, settings.xc)
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
    n = p.n_occ
    result = DFTResult(
        energy_ha=float(energy),
        homo_ha=float(mo_energy[n - 1]),
        lumo_ha=float(mo_energy[n]) if n < len(mo_energy) else float("nan"),
        gap_ha=float(mo_energy[n] - mo_energy[n - 1]) if n < len(mo_energy) else float("nan"),
        mo_energy=mo_energy,
        dipole_debye=_dipole(p.mol, p.basis, dm64),
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
    )
    if want_forces:
        with _timed(p.timings, "forces_s"):
            result.forces_ha_bohr = _forces(p, settings, dm64, np.asarray(mo_energy),
                                            np.asarray(mo_coeff, dtype=np.float64))
        result.timings = dict(p.timings)
    return result


def _mulliken(mol, bas, dm, s) -> np.ndarray:
    """Mulliken charges (natoms,): Z_A minus the AO populations diag(D S) on atom A."""
    population = np.einsum("ij,ji->i", dm, s)
    return mol.numbers - np.bincount(bas.ao_atom, weights=population, minlength=mol.natoms)


def _dipole(mol, bas, dm) -> np.ndarray:
    """Dipole moment (3,) in Debye about the origin: sum_A Z_A R_A - tr(D r)."""
    r = np.asarray(dipole(mol, bas, precision="float64"))
    nuclear = mol.numbers @ np.asarray(mol.positions, dtype=np.float64)
    electronic = np.einsum("xij,ji->x", r, dm)
    return (nuclear - electronic) * DEBYE_AU


def _forces(p: Prepared, settings: Settings, dm, mo_energy, mo_coeff) -> np.ndarray:
    """-dE/dR (natoms, 3) at the final density, by JAX autodiff (no differentiation through
    the iterations).

    With D held fixed, the energy's dependence on R through the orthonormality constraint
    C^T S C = 1 gives the Pulay term: dE/dR = dE/dR|_D - tr(W dS/dR) with the energy-weighted
    density W = sum_i occ_i e_i C_i C_i^T. The grid stays fixed in space (no grid response),
    as in PySCF's default analytic gradients.
    """
    spec = xc.functional(settings.xc)
    occ = np.asarray(p.work.occ, dtype=np.float64)
    w = (mo_coeff * (occ * mo_energy)) @ mo_coeff.T
    dm = jnp.asarray(dm)
    w = jnp.asarray(w)
    points = None if p.grid is None else jnp.asarray(p.grid.points)
    weights = None if p.grid is None else jnp.asarray(p.grid.weights, jnp.float64)

    def lagrangian(positions):
        mol = p.mol.with_positions(positions)
        s = integrals.overlap(mol, p.basis, precision="float64")
        h = integrals.kinetic(mol, p.basis, precision="float64") + integrals.nuclear(
            mol, p.basis, precision="float64")
        eri = integrals.eri(mol, p.basis, precision="float64")
        j, k = integrals.jk(eri, dm)
        energy = (jnp.vdot(dm, h) + 0.5 * jnp.vdot(dm, j) - 0.25 * spec.hybrid * jnp.vdot(dm, k)
                  + integrals.nuclear_repulsion(mol) - jnp.vdot(w, s))
        if spec.terms:
            ao = grids.ao_values(mol, p.basis, points, deriv=1 if spec.is_gga else 0,
                                 precision="float64")
            energy = energy + xc.vxc(settings.xc, ao, weights, dm, precision="float64")[1]
        return energy

    positions = jnp.asarray(p.mol.positions, jnp.float64)
    return -np.asarray(jax.grad(lagrangian)(positions))
