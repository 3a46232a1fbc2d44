"""How much memory one molecule's device program needs: an analytic model, and XLA's count.

The analytic model describes the program PySCF-IPU ran (Mathiasen et al. 2023; see
docs/device-model.md): one bulk-synchronous program with static shapes per molecule, on one IPU, in two
phases whose buffers are never live at the same time:

ERI phase: every unique primitive quartet (ab|cd) is evaluated into its own float32 in one
    compute superstep, then contracted into the unique contracted integrals (ij|kl). Both
    buffers are live at the superstep's end. With P primitive functions (an AO with n
    primitives counts n times; STO-3G: P = 3 nao), the 8-fold permutational symmetry leaves
    q(P) = m(m + 1)/2 unique quartets, m = P(P + 1)/2 unique pairs; q(P) ~ P^4/8.
SCF phase: the contracted ERIs stay resident on their tiles for all iterations; AO values
    (and gradients for a GGA) on the grid; the density matrix broadcast to every tile and J, K
    accumulated per tile (replicated: 3 nao^2 floats on each tile); the DIIS history; and the
    SCF's own matrices.

The peak is the larger phase. Code, vertex state and exchange buffers are not counted: the
model is a lower bound on what Poplar would allocate, so a molecule it refuses cannot fit.

For B3LYP/STO-3G at grid level 0 the ERI phase dominates: q(3 nao) x 4 bytes is 927 MB at
nao = 69 and 982 MB at nao = 70 against 1,472 x 624 KiB = 940.6 MB, so the model's limit is
69 orbitals: QM1B's largest molecules (11 heavy atoms + 14 H) fit and PySCF-IPU's stated
`nao <= 70` is not reached. `orbital_limit` computes it.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from dftgen import basis as basis_mod
from dftgen.basis import BasisSet
from dftgen.grids.atomic import atomic_grid
from dftgen.molecule import Molecule
from dftgen.device.specs import DeviceSpec
from dftgen.presets import Settings
from dftgen.xc import functional as xc_functional

FLOAT32 = 4  # bytes: the IPU computes in float32
# Matrices (nao, nao) the SCF keeps besides DIIS: inputs h, S, X and the initial density; the
# carried density and Fock matrix; the new density and Fock matrix; orbitals C; the
# extrapolated Fock matrix.
SCF_MATRICES = 10
REPLICATED_MATRICES = 3  # D broadcast to every tile, J and K accumulated on every tile


def unique_quartets(n: int) -> int:
    """Quartets (ij|kl) of n functions left by the 8-fold symmetry i>=j, k>=l, ij>=kl."""
    pairs = n * (n + 1) // 2
    return pairs * (pairs + 1) // 2


@dataclasses.dataclass(frozen=True)
class Workload:
    """The sizes that fix one molecule's device program.

    nao: basis functions; primitives: primitive functions (sum over shells of nprim x nfunc);
    npts: grid points; ao_components: AO arrays on the grid (1 for LDA, 4 with gradients for
    a GGA, 0 for Hartree-Fock); diis_space: DIIS vectors kept.
    """

    nao: int
    primitives: int
    npts: int
    ao_components: int
    diis_space: int


def _components(settings: Settings) -> int:
    spec = xc_functional(settings.xc)
    return (4 if spec.is_gga else 1) if spec.terms else 0


def workload(basis: BasisSet, settings: Settings, npts: int) -> Workload:
    """The workload of a molecule in `basis` on a grid of `npts` points."""
    components = _components(settings)
    primitives = sum(s.nprim * s.nfunc for s in basis.shells)
    return Workload(basis.nao, primitives, npts if components else 0, components,
                    settings.diis_space)


@dataclasses.dataclass(frozen=True)
class Term:
    """One buffer of the model: name, bytes, the phase it is live in, and its formula."""

    name: str
    bytes: int
    phase: str
    formula: str


@dataclasses.dataclass(frozen=True)
class Footprint:
    """The analytic model of one workload on one device."""

    terms: tuple[Term, ...]
    limit_bytes: int

    def phase_bytes(self, phase: str) -> int:
        return sum(t.bytes for t in self.terms if t.phase in (phase, "both"))

    @property
    def peak_phase(self) -> str:
        return max(("eri", "scf"), key=self.phase_bytes)

    @property
    def peak_bytes(self) -> int:
        return self.phase_bytes(self.peak_phase)

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.limit_bytes

    def largest(self, k: int = 3) -> list[Term]:
        """The k largest buffers live at the peak."""
        live = [t for t in self.terms if t.phase in (self.peak_phase, "both")]
        return sorted(live, key=lambda t: -t.bytes)[:k]

    def reason(self) -> str:
        """Why it does not fit (empty when it does)."""
        if self.fits:
            return ""
        buffers = ", ".join(f"{t.name} {t.bytes / 1e6:.1f} MB ({t.formula})" for t in self.largest())
        return (f"needs {self.peak_bytes / 1e6:.1f} MB in its {self.peak_phase} phase, more than "
                f"the {self.limit_bytes / 1e6:.1f} MB of SRAM; largest buffers: {buffers}")

    def as_dict(self) -> dict:
        return {
            "memory_bytes": self.peak_bytes, "limit_bytes": self.limit_bytes,
            "peak_phase": self.peak_phase, "fits": self.fits,
            "terms": [dataclasses.asdict(t) for t in self.terms],
        }


def footprint(w: Workload, device: DeviceSpec) -> Footprint:
    """Each buffer of the model in bytes (float32), and the device's SRAM as the limit."""
    n2 = w.nao * w.nao
    terms = (
        Term("primitive_eri", unique_quartets(w.primitives) * FLOAT32, "eri",
             f"q(P={w.primitives}) x 4 B, one float32 per unique primitive quartet"),
        Term("contracted_eri", unique_quartets(w.nao) * FLOAT32, "both",
             f"q(nao={w.nao}) x 4 B, unique contracted integrals"),
        Term("ao_values", w.ao_components * w.npts * w.nao * FLOAT32, "scf",
             f"{w.ao_components} x npts={w.npts} x nao x 4 B"),
        Term("grid_weights", (w.npts if w.ao_components else 0) * FLOAT32, "scf", "npts x 4 B"),
        Term("replicated_djk", REPLICATED_MATRICES * n2 * FLOAT32 * device.tiles, "scf",
             f"{REPLICATED_MATRICES} x nao^2 x 4 B on each of {device.tiles} tiles"),
        Term("diis_history", 2 * w.diis_space * n2 * FLOAT32, "scf",
             f"2 x {w.diis_space} x nao^2 x 4 B (Fock and error matrices)"),
        Term("scf_matrices", SCF_MATRICES * n2 * FLOAT32, "scf",
             f"{SCF_MATRICES} x nao^2 x 4 B"),
    )
    return Footprint(terms, device.sram_bytes)


# -- the orbital limit ---------------------------------------------------------------------

QM1B_MAX_HYDROGENS = 14  # QM1B kept molecules with at most 14 hydrogens


def qm1b_like(nao: int, basis: str = "sto-3g") -> tuple[int, int]:
    """(heavy atoms, hydrogens) of a QM1B-like STO-3G molecule with `nao` orbitals: as many
    hydrogens as QM1B allowed, 5 orbitals per heavy atom."""
    heavy = max(0, math.ceil((nao - QM1B_MAX_HYDROGENS) / 5))
    return heavy, nao - 5 * heavy


@functools.lru_cache(maxsize=None)
def atom_sizes(z: int, basis: str, grid_level: int,
               shells: str = "spherical") -> tuple[int, int, int]:
    """(nao, primitive functions, grid points) that one atom of element z contributes, with
    spherical or Cartesian shells as `shells` says (`dftgen.basis.SHELLS`)."""
    mol = Molecule(numbers=np.array([z]), positions=np.zeros((1, 3)), spin=z % 2)
    atom = basis_mod.build(mol, basis, shells).shells
    nao = sum(s.nfunc for s in atom)
    return nao, sum(s.nprim * s.nfunc for s in atom), len(atomic_grid(z, grid_level)[1])


def qm1b_workload(nao: int, settings: Settings) -> Workload:
    """The workload of a QM1B-like molecule of carbons and hydrogens (`qm1b_like`).

    Grid points are those of the free atoms' grids, as `dftgen.grids.build` keeps them."""
    heavy, hydrogens = qm1b_like(nao)
    sizes = [np.array(atom_sizes(z, settings.basis, settings.grid_level, settings.shells)) * k
             for z, k in ((6, heavy), (1, hydrogens))]
    total_nao, primitives, npts = (int(x) for x in sum(sizes))
    base = _components(settings)
    return Workload(total_nao, primitives, npts if base else 0, base, settings.diis_space)


def orbital_limit(device: DeviceSpec, settings: Settings, upper: int = 400) -> int:
    """The largest nao whose QM1B-like molecule fits the device (0 if none does)."""
    best = 0
    for nao in range(1, upper + 1):
        if footprint(qm1b_workload(nao, settings), device).fits:
            best = nao
        else:
            break
    return best


# -- XLA's count ---------------------------------------------------------------------------


def xla_memory(compiled) -> dict:
    """Bytes of a compiled program from XLA's memory analysis: arguments, outputs, temporaries
    and generated code, and their total (aliased bytes counted once)."""
    stats = compiled.memory_analysis()
    out = {
        "argument_bytes": int(stats.argument_size_in_bytes),
        "output_bytes": int(stats.output_size_in_bytes),
        "temp_bytes": int(stats.temp_size_in_bytes),
        "alias_bytes": int(stats.alias_size_in_bytes),
        "code_bytes": int(stats.generated_code_size_in_bytes),
    }
    out["total_bytes"] = (out["argument_bytes"] + out["output_bytes"] + out["temp_bytes"]
                          + out["code_bytes"] - out["alias_bytes"])
    return out
