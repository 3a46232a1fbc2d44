"""`Device`: where the kernel runs (JAX's CPU or GPU, or emulated IPUs) and what IPU mode checks.

    device = dftgen.device.get("ipu-bow")            # or "ipu-gc200", "cpu", "gpu"; n= for a Pod
    results = device.run(mols, settings)             # the kernel, wrapped by the device's rules
    problem = device.build(setup, settings)          # one molecule checked, assembled, admitted

The device layer wraps the kernel (`dftgen.scf`): it decides the precision of the integrals,
whether a molecule fits, and what it costs, and hands the kernel's driver its way of building
a molecule's arrays (`build`) and of mapping a batch (`map_batch`). An emulated IPU runs on
JAX's CPU host devices (one per IPU of a Pod). Before a molecule's SCF program runs, `admit`
applies the IPU rules: the program must be float32 only, and the molecule must fit in SRAM by
the analytic model and on every tile by the tile map. It returns XLA's memory analysis of the
compiled program, the model, the tile map and the BSP estimate.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from dftgen import integrals, scf
from dftgen.basis import BasisSet
from dftgen.device import cost, memory, pod, tiles
from dftgen.device.rules import COMPILE_CACHE, DeviceError, require_float32, shape_key
from dftgen.device.specs import DeviceSpec, spec
from dftgen.molecule import Molecule
from dftgen.presets import Settings
from dftgen.scf.iterations import fock_and_energy, iterate


@dataclasses.dataclass(frozen=True)
class MemoryAssessment:
    """The analytic footprint and tile map of one molecule on one IPU."""

    footprint: memory.Footprint
    tile_map: tiles.TileMap

    @property
    def fits(self) -> bool:
        return self.footprint.fits and self.tile_map.fits

    @property
    def reason(self) -> str:
        if not self.footprint.fits:
            return self.footprint.reason()
        if not self.tile_map.fits:
            s = self.tile_map.summary()
            return (f"the chip total fits but {s['tiles_over_budget']} tile(s) exceed their "
                    f"{s['budget_bytes_per_tile']} B (largest {s['max_bytes_per_tile']} B)")
        return ""


@dataclasses.dataclass(frozen=True)
class Admission:
    """What `Device.admit` found for one molecule (it fits, or admit would have raised)."""

    device: str
    nao: int
    assessment: MemoryAssessment | None
    xla_memory: dict
    estimate: cost.Estimate | None
    compile_cache: dict

    def as_dict(self) -> dict:
        out = {"device": self.device, "fits": True, "nao": self.nao,
               "xla_memory": self.xla_memory, "compile_cache": self.compile_cache}
        if self.assessment is not None:
            fp = self.assessment.footprint
            out.update(memory_bytes=fp.peak_bytes, limit_bytes=fp.limit_bytes,
                       tiles_used=self.assessment.tile_map.tiles_used,
                       memory_model=fp.as_dict(), tile_map=self.assessment.tile_map.summary())
        if self.estimate is not None:
            out.update(self.estimate.as_dict())
        return out


@dataclasses.dataclass(frozen=True)
class Device:
    """n devices of one spec; for IPUs, n emulated chips of a Pod (one molecule per chip)."""

    spec: DeviceSpec
    n: int = 1

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_ipu(self) -> bool:
        return self.spec.is_ipu

    @property
    def jax_devices(self) -> list:
        """The JAX devices it runs on: host CPU devices for emulated IPUs."""
        platform = "gpu" if self.spec.kind == "gpu" else "cpu"
        try:
            found = jax.devices(platform)
        except RuntimeError as err:
            raise DeviceError(f"device {self.name!r}: JAX has no {platform} backend") from err
        if len(found) < self.n:
            hint = (f"; call dftgen.device.configure_host_devices({self.n}) before JAX starts"
                    if platform == "cpu" else "")
            raise DeviceError(f"device {self.name!r} with n={self.n} needs {self.n} JAX "
                              f"{platform} devices, found {len(found)}{hint}")
        return found[: self.n]

    def assess_memory(self, basis: BasisSet, settings: Settings, npts: int) -> MemoryAssessment:
        """Analytic footprint and tile map of a molecule in `basis` with `npts` grid points."""
        fp = memory.footprint(memory.workload(basis, settings, npts), self.spec)
        return MemoryAssessment(fp, tiles.tile_map(basis, fp, self.spec))

    def check_fits(self, setup: scf.Setup, settings: Settings) -> MemoryAssessment:
        """`assess_memory` of a set-up molecule, raising DeviceError with the reason when it
        does not fit; cheap (no integrals), so it runs before a molecule's arrays are built."""
        assessment = self.assess_memory(setup.basis, settings, setup.npts)
        if not assessment.fits:
            raise DeviceError(f"molecule {setup.mol.name!r} (nao={setup.basis.nao}) does not "
                              f"fit one {self.name}: {assessment.reason}")
        return assessment

    def eri_precision(self, settings: Settings) -> str | None:
        """The precision the ERIs are computed in: an IPU's own (float32 only), else None
        (`scf.assemble`'s choice: float64, or mixed for float32 iterations)."""
        return settings.precision if self.is_ipu else None

    def build(self, setup: scf.Setup, settings: Settings) -> scf.Problem:
        """One molecule's SCF arrays as this device computes them, admitted (`admit`): the
        report lands in the Problem and then in `DFTResult.device`."""
        problem = scf.assemble(setup, settings, eri_precision=self.eri_precision(settings))
        problem.report = self.admit(problem, settings).as_dict()
        return problem

    def admit(self, problem: scf.Problem, settings: Settings) -> Admission:
        """Check a molecule's SCF program against the device's rules before it runs.

        Raises DeviceError (IPU only) when the program has a float64 array (each is named) or
        the molecule does not fit (the largest buffers and the limit are named). Compiles
        `iterate` once per shape (COMPILE_CACHE) for XLA's memory analysis, and counts the
        FLOPs of the ERI, Fock and SCF programs once per shape (`program_costs`) for the BSP
        estimate.
        """
        inputs, nao = problem.work, problem.basis.nao
        if not self.is_ipu:
            program = COMPILE_CACHE.compile("iterate", iterate, inputs, settings=settings)
            return Admission(self.name, nao, None, memory.xla_memory(program), None,
                             COMPILE_CACHE.stats())
        require_float32(iterate, inputs, names=("inputs",), settings=settings)
        assessment = self.check_fits(problem.setup, settings)
        program = COMPILE_CACHE.compile("iterate", iterate, inputs, settings=settings)
        estimate = cost.estimate(self.spec, nao, *program_costs(problem, settings),
                                 settings.max_iter, settings.diis_space)
        return Admission(self.name, nao, assessment, memory.xla_memory(program), estimate,
                         COMPILE_CACHE.stats())

    def map_batch(self, fn, stacked):
        """fn over the leading axis of `stacked`, split across the n JAX devices (see
        `dftgen.device.pod.map_batch`); equal to jax.vmap(fn)(stacked)."""
        return pod.map_batch(fn, stacked, self.jax_devices)

    def run(self, mols: list[Molecule], settings: Settings, *, forces: bool = False,
            keep_orbitals: bool = False) -> list[scf.DFTResult]:
        """The kernel's `run_setups` on this device: every molecule is checked against the
        device's memory before any integral is computed (IPU), built and admitted by `build`,
        and a Pod's buckets are split across its chips."""
        with jax.default_device(self.jax_devices[0]):
            setups = [scf.setup(mol, settings) for mol in mols]
            if self.is_ipu:
                for s in setups:
                    self.check_fits(s, settings)
            return scf.run_setups(setups, settings, forces=forces, keep_orbitals=keep_orbitals,
                                  build=self.build,
                                  map_batch=self.map_batch if self.n > 1 else None)


_COSTS: dict[tuple, cost.ProgramCost] = {}


def _counted(name: str, fn, *args, static_key=()) -> cost.ProgramCost:
    """`cost.ProgramCost.counted(fn, *args)`, once per (name, static key, argument shapes)."""
    key = (name, static_key, shape_key(args))
    if key not in _COSTS:
        _COSTS[key] = cost.ProgramCost.counted(fn, *args)
    return _COSTS[key]


def program_costs(problem: scf.Problem, settings: Settings) -> tuple:
    """XLA's counts (every loop trip included) of the three programs the cost model needs:
    the ERI evaluation, one Fock build `fock_and_energy`, and `iterate`.

    The ERIs are counted for all unique quartets (no screening: PySCF-IPU computed them all,
    and at QM1B sizes 79-95% survive it anyway)."""
    basis, inputs = problem.basis, problem.work

    def eri(positions):
        return integrals.eri(Molecule(numbers=basis.numbers, positions=positions), basis,
                             precision=settings.precision, threshold=0.0)

    return (_counted("eri", eri, jnp.asarray(problem.mol.positions),
                     static_key=(basis.shape_key, settings.precision)),
            _counted("fock_and_energy", functools.partial(fock_and_energy, xc_name=settings.xc),
                     inputs.dm0, inputs, static_key=settings.xc),
            _counted("iterate", functools.partial(iterate, settings=settings), inputs,
                     static_key=settings))


def get(name: str = "cpu", n: int = 1) -> Device:
    """A device by name ("cpu", "gpu", "ipu-gc200", "ipu-bow"); n > 1 for a Pod of n."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return Device(spec(name), n)
