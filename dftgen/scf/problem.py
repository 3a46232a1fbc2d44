"""One molecule made ready for the SCF: its basis and grid (`setup`), then its arrays (`assemble`).

    setup = dftgen.scf.problem.setup(mol, settings)      # basis and grid, built once
    problem = dftgen.scf.problem.assemble(setup, settings)  # integrals, AO values, guess

The two steps are separate so that whoever runs the SCF can look at a molecule's size (basis
functions, grid points) before paying for its integrals: a device that cannot hold it refuses
it there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import basis as basis_mod
from dftgen import grids, guess, integrals, xc
from dftgen.integrals import df, one_electron, symmetric
from dftgen.integrals.symmetric import SymmetricBlocks
from dftgen.molecule import Molecule, MoleculeError
from dftgen.precision import Float32Pair
from dftgen.precision import on_device
from dftgen.precision import dtype as precision_dtype
from dftgen.presets import Settings
from dftgen.scf.iterations import SCFInputs, orthogonaliser


def physical_memory() -> int:
    """Bytes of memory of this machine (8 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


# bytes up to which the SCF holds ERIs as Raffenetti's P supermatrix, else packed (J/K then
# unpack them every build, far slower): an eighth of the machine's memory, at least 1 GiB
PAIR_ERI_BYTES = max(physical_memory() // 8, 1 << 30)
# bytes up to which the SCF holds the fitted ERIs in memory, else in a temporary file read a
# block at a time at every build (PySCF keeps its _cderi on disk beyond max_memory so)
FITTED_ERI_BYTES = max(physical_memory() // 4, 1 << 30)
# bytes up to which the SCF holds the AO values on the grid (else the screened values, group
# by group as they fit), else it evaluates them again at every XC build (twice its time, but
# O(nao) memory a point instead of O(nao npts) in all)
AO_VALUE_BYTES = max(physical_memory() // 8, 1 << 30)


@dataclasses.dataclass(frozen=True)
class Setup:
    """A closed-shell molecule with its basis set and integration grid (None for Hartree-Fock,
    which needs no grid); `timings` holds the grid's wall-clock seconds; `auxbasis` is the
    auxiliary basis where the ERIs are density-fitted (None: exact ERIs), and `fitted_in_file`
    whether they are held in a file (more than FITTED_ERI_BYTES)."""

    mol: Molecule
    basis: basis_mod.BasisSet
    grid: grids.Grid | None
    timings: dict[str, float]
    auxbasis: basis_mod.BasisSet | None = None
    fitted_in_file: bool = False

    @property
    def two_electron_method(self) -> str:
        """"exact" or "df", as `Settings.eri` resolved for this molecule."""
        return "exact" if self.auxbasis is None else "df"

    @property
    def npts(self) -> int:
        """Grid points (0 without a grid)."""
        return 0 if self.grid is None else self.grid.size

    @property
    def n_occ(self) -> int:
        """Doubly occupied orbitals."""
        return self.mol.n_electrons // 2


@dataclasses.dataclass
class Problem:
    """One molecule's SCF arrays: `work` in the iteration precision, `exact` in float64 when
    the iterations run in float32 (None otherwise). `report` carries what a device layer
    found when it admitted the molecule (None on a plain run). `dipole` holds <m| r |n>
    (3, nao, nao) in Bohr about the origin, float64, made with S, T and V."""

    setup: Setup
    work: SCFInputs
    exact: SCFInputs | None
    timings: dict[str, float]
    dipole: np.ndarray
    report: dict | None = None

    @property
    def mol(self) -> Molecule:
        return self.setup.mol

    @property
    def basis(self) -> basis_mod.BasisSet:
        return self.setup.basis


def setup(mol: Molecule, settings: Settings) -> Setup:
    """The basis and grid of `mol` at `settings`; raises MoleculeError for an open shell or
    more occupied orbitals than basis functions."""
    if mol.spin != 0 or mol.n_electrons % 2:
        raise MoleculeError(
            f"molecule {mol.name!r}: restricted Kohn-Sham needs a closed shell, but it has "
            f"{mol.n_electrons} electrons and spin {mol.spin}"
        )
    bas = basis_mod.build(mol, settings.basis, settings.shells)
    if mol.n_electrons // 2 > bas.nao:
        raise MoleculeError(f"molecule {mol.name!r}: {mol.n_electrons // 2} occupied orbitals "
                            f"but nao={bas.nao}")
    functional = xc.functional(settings.xc)
    auxbasis, in_file = None, False
    if settings.eri == "df" or (settings.eri == "auto" and not _pair_eri_fits(bas.nao)):
        auxbasis = df.auxiliary_basis(mol, settings.basis, settings.auxbasis, settings.shells)
        tensor = auxbasis.nao * bas.nao * (bas.nao + 1) // 2 * 8
        in_file = _fitted_tensors(functional, settings.precision) * tensor > FITTED_ERI_BYTES
        if in_file:
            _check_disk(mol, (2 if functional.is_range_separated else 1) * tensor,
                        f"nao={bas.nao}, naux={auxbasis.nao}")
    else:
        # a range-separated functional holds the ERIs of 1/r and of erf(omega r)/r
        tensors = 2 if functional.is_range_separated else 1
        _check_memory(mol, tensors * integrals.n_packed(bas.nao) * 8, f"nao={bas.nao}",
                      "exact ERIs", "use density fitting (eri='df', --eri df) or a smaller "
                                    "molecule or basis")
    timings: dict[str, float] = {}
    grid = None
    if functional.terms:
        with timed(timings, "grid_s"):
            grid = grids.build(mol, settings.grid_level)
    return Setup(mol, bas, grid, timings, auxbasis, in_file)


def _fitted_tensors(functional: xc.Functional, precision: str) -> float:
    """Tensors of naux npair float64 values the SCF holds with fitted ERIs (B is made in
    place): B, beside it a range-separated functional's B of erf(omega r)/r, and each
    rounded to float32 (half a tensor) for float32 iterations."""
    tensors = 2 if functional.is_range_separated else 1
    return tensors * (1.5 if precision_dtype(precision) == jnp.float32 else 1.0)


def working_bytes(setup: Setup) -> int:
    """Bytes of a molecule's largest arrays, held through its SCF: the ERIs in float64 (the
    fitted ones within the bound they are kept in memory to) and the AO values on the grid
    with their gradients (within theirs)."""
    nao = setup.basis.nao
    npair = nao * (nao + 1) // 2
    if setup.auxbasis is None:
        eri = symmetric.stored_elements(npair) * 8
    else:
        eri = min(2 * setup.auxbasis.nao * npair * 8, FITTED_ERI_BYTES)
    return eri + min(4 * nao * setup.npts * 8, AO_VALUE_BYTES)


def _pair_eri_fits(nao: int, itemsize: int = 8) -> bool:
    """Whether the exact ERIs' P supermatrix of nao functions fits in PAIR_ERI_BYTES."""
    npair = nao * (nao + 1) // 2
    return symmetric.stored_elements(npair) * itemsize <= PAIR_ERI_BYTES


def _check_memory(mol: Molecule, needed: int, size: str, what: str, remedy: str) -> None:
    """MoleculeError naming the memory needed, the memory there is and `remedy`, before any
    integral, when the ERIs (`needed` bytes in float64) would take more than half of this
    machine's memory."""
    have = physical_memory()
    if needed > have // 2:
        raise MoleculeError(f"molecule {mol.name!r}: {size} needs {needed / 2**30:.1f} GiB for "
                            f"its {what}, more than half of this machine's "
                            f"{have / 2**30:.1f} GiB; {remedy}")


def _check_disk(mol: Molecule, needed: int, size: str) -> None:
    """MoleculeError naming the disk space the fitted ERIs' file needs, the space there is
    and the remedy, before any integral, when the temporary directory lacks it."""
    where = tempfile.gettempdir()
    free = shutil.disk_usage(where).free
    if needed > free:
        raise MoleculeError(f"molecule {mol.name!r}: {size} needs {needed / 2**30:.1f} GiB of "
                            f"disk for its density-fitted ERIs, more than the "
                            f"{free / 2**30:.1f} GiB free in {where}; set TMPDIR to a larger "
                            f"disk, or use a smaller molecule or basis")


def assemble(setup: Setup, settings: Settings, eri_precision: str | None = None) -> Problem:
    """One molecule's arrays for the SCF: integrals, AO values on the grid, initial guess.

    eri_precision: "float64", "mixed" or "float32"; None (the default): "mixed" where the
    iterations run in float32, else "float64". The large integrals are best computed in
    float64 and rounded once: the float32 ERI kernel's errors, although within 3e-7 of the
    largest integral, are slightly biased, and the Coulomb energy (hundreds of Hartree) sums
    them coherently into ~1e-4 Ha, while correctly rounded ERIs leave ~1e-6 Ha. "mixed"
    computes in float32 only the tile pairs whose integrals are all below
    MIXED_FLOAT32_BELOW (their errors are ~1e-9 Ha each, and sum to ~1e-8 Ha in the energy),
    at nearly float32 speed. "float32" computes all of them in float32, as a float32-only
    device must.
    """
    if eri_precision is None:
        eri_precision = "mixed" if settings.precision != "float64" else "float64"
    mol, bas = setup.mol, setup.basis
    timings = dict(setup.timings)
    functional = xc.functional(settings.xc)
    work_dtype = precision_dtype(settings.precision)
    exact_needed = settings.precision != "float64"

    with timed(timings, "one_electron_s"):
        one = {k: np.asarray(v) for k, v in one_electron.matrices(mol, bas).items()}
        s64, h64 = one["overlap"], one["kinetic"] + one["nuclear"]
        e_nuc = float(integrals.nuclear_repulsion(mol))
    with timed(timings, "eri_s"):
        if setup.auxbasis is None:
            eri, exact_eri = _eri_arrays(mol, bas, functional, eri_precision, work_dtype,
                                         exact_needed)
        else:
            eri, exact_eri = _fitted_arrays(mol, bas, functional, setup.auxbasis, eri_precision,
                                            work_dtype, setup.fitted_in_file)
        # the float64 evaluation's half (a Float32Pair's lo) is left to finish while the
        # host computes AO values: it is needed only at the end
        jax.block_until_ready(eri)
    ao64 = on_device(np.zeros((1, bas.nao, 1)), "float64")
    ao_work = on_device(np.zeros((1, bas.nao, 1)), work_dtype)
    weights = np.zeros(1)
    if setup.grid is not None:
        deriv = 1 if functional.is_gga else 0
        stored = _ao_values_fit(setup, deriv, work_dtype)
        with timed(timings, "ao_s"):
            if stored:
                # float32 iterations take the float64 values rounded once, as S and h
                ao64 = grids.ao_values(mol, bas, setup.grid.points, deriv=deriv,
                                       precision="float64", ao_major=True)
                ao64 = ao64 if functional.is_gga else ao64[None]
                ao_work = on_device(ao64, work_dtype).block_until_ready()
            else:
                source = grids.AOSource.of(mol, bas, setup.grid.points, deriv)
                ao64 = ao_work = grids.hold(grids.screen(source), AO_VALUE_BYTES)
                jax.block_until_ready(ao64)  # held values belong to this phase's time
        weights = setup.grid.weights
    with timed(timings, "guess_s"):
        dm0_orbitals = (guess.minao_orbitals(mol, bas, s64) if settings.init_guess == "minao"
                        else guess.core_orbitals(h64, s64, setup.n_occ))
        dm0 = dm0_orbitals @ dm0_orbitals.T
        x64 = np.asarray(orthogonaliser(s64, settings.orthogonalisation))
    occ = np.zeros(bas.nao)
    occ[:setup.n_occ] = 2.0

    def inputs(dt, eri_array, ao_array):
        return SCFInputs(
            h=on_device(h64, dt), s=on_device(s64, dt), x=on_device(x64, dt), eri=eri_array,
            ao=ao_array, weights=on_device(weights, dt), dm0=on_device(dm0, dt),
            occ=on_device(occ, dt), e_nuc=on_device(e_nuc, dt),
            # fitted exchange and the density on the grid from the guess's orbitals
            dm0_orbitals=on_device(dm0_orbitals, dt),
        )

    work = inputs(work_dtype, eri, ao_work)
    exact = inputs(jnp.float64, exact_eri, ao64) if exact_needed else None
    return Problem(setup, work, exact, timings, one["dipole"])


#: "mixed" ERIs: tile pairs whose Schwarz bound is below this (Hartree) run in float32
#: (benchmarks/results/tuning.md: the energy moves by ~1e-8 Ha at QM1B sizes)
MIXED_FLOAT32_BELOW = 1e-2


def _ao_values_fit(setup: Setup, deriv: int, work_dtype) -> bool:
    """Whether the SCF holds the AO values of `setup`'s grid (float64, and a copy in the
    iteration precision where that is float32) within AO_VALUE_BYTES; if not, it holds a
    `grids.ScreenedSource` and the XC kernel evaluates them chunk by chunk, the shells that
    matter on each chunk only, but for the chunk groups whose screened values it holds
    within AO_VALUE_BYTES (`grids.hold`)."""
    values = (1 + 3 * deriv) * setup.basis.nao * setup.npts
    itemsize = 8 + (jnp.dtype(work_dtype).itemsize if jnp.dtype(work_dtype) != jnp.float64 else 0)
    return values * itemsize <= AO_VALUE_BYTES


def _eri_arrays(mol, bas, functional, eri_precision: str, work_dtype, exact_needed: bool):
    """(ERIs in the iteration precision, ERIs for the float64 final evaluation).

    Where memory allows they are built once into P, so that each Fock build is one pass over
    nao^4/8 values; float32 iterations then take P rounded once and the final evaluation
    takes it whole, from one Float32Pair (hi is the rounded P). A range-separated hybrid's
    long-range exchange is built into P too, from the ERIs of erf(omega r)/r.
    """
    precision, below = (("float64", MIXED_FLOAT32_BELOW) if eri_precision == "mixed"
                        else (eri_precision, 0.0))
    computed = integrals.eri(mol, bas, precision=precision, float32_below=below)
    long_range = None
    if functional.is_range_separated:
        long_range = (integrals.eri(mol, bas, precision=precision, omega=functional.omega,
                                    float32_below=below), functional.long_range)
    if _pair_eri_fits(bas.nao, computed.dtype.itemsize):
        split = exact_needed and computed.dtype == jnp.float64
        computed = integrals.fock_supermatrix(computed, bas.nao, functional.hybrid, split,
                                              long_range)
    elif long_range is not None:
        raise MoleculeError(f"molecule {mol.name!r}: nao={bas.nao} is too large for the P "
                            f"supermatrix a range-separated functional ({functional.name}) needs")
    if isinstance(computed, SymmetricBlocks) and isinstance(computed.blocks, Float32Pair):
        return SymmetricBlocks(computed.blocks.hi), computed
    return tuple(jax.tree.map(lambda a: a.astype(dt), computed) for dt in (work_dtype, jnp.float64))


def _fitted_arrays(mol, bas, functional, auxbasis, eri_precision: str, work_dtype,
                   in_file: bool):
    """(fitted ERIs in the iteration precision, in float64 for the final evaluation): B is
    made in float64 (the metric's Cholesky factor needs it) and rounded once for float32
    iterations (as read, where it is in a file). A range-separated functional's long-range
    exchange is fitted beside it, as PySCF's `DF.range_coulomb`: B_lr from (P|ij) and (P|Q)
    of erf(omega r)/r."""
    if eri_precision == "float32":
        raise ValueError(f"molecule {mol.name!r}: density fitting needs float64 integrals "
                         f"(the Cholesky factor of the auxiliary metric), not {eri_precision}")
    fitted = df.fitted_eri(mol, bas, auxbasis, in_file=in_file)
    if functional.is_range_separated:
        fitted = fitted._replace(b_lr=df.fitted_eri(mol, bas, auxbasis, functional.omega,
                                                    in_file).b)
    return df.rounded(fitted, work_dtype), fitted


@contextlib.contextmanager
def timed(timings: dict[str, float], key: str):
    """Add the wall-clock seconds of the enclosed phase to timings[key]."""
    start = time.perf_counter()
    yield
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
