"""A bulk-synchronous (BSP) cost model: estimated time per conformer on an IPU.

A BSP program is a sequence of supersteps; each costs (Valiant 1990)
    w / clock + g h / clock + l,
w the compute cycles of the busiest tile, h the bytes the busiest tile sends or receives in
the exchange (g = 1 / exchange bytes per cycle), l one chip-wide sync. The program modelled is
PySCF-IPU's (Mathiasen et al. 2023; docs/device-model.md): the ERIs evaluated once in one
superstep and kept on their tiles; then per SCF iteration the density broadcast to every tile,
J, K and V_xc accumulated per tile and reduced across tiles, the dense linear algebra of DIIS
and the orbital solve on nao tiles, and the Fock matrix diagonalised by a parallel Jacobi
eigensolver (what PySCF-IPU used on the IPU; LAPACK's eigh is a host call that XLA's cost
analysis counts as free).

FLOPs come from XLA's cost analysis of the kernel's own programs: the ERI evaluation, the Fock
build `fock_and_energy` (on the SCF's own two-electron layout, the lower-triangle blocks of
Raffenetti's P = J - a/2 K supermatrix, `dftgen.integrals.fock_supermatrix`), and `iterate`.
XLA counts a loop body once whatever its trip count, so `ProgramCost.counted` multiplies every
`scan` body (the ERI's tiles, the XC's grid chunks) by its trip count; `iterate`'s while loop
stays counted once, so that
    iterate = initial Fock build + one iteration,  one iteration = Fock build + linear algebra.

Assumptions, each a place where the estimate can be wrong:
  * the IPU is the bottleneck: the published figure is IPU allocation time, and host work
    (conformers, grids, one-electron integrals, the float64 re-evaluation) is taken to overlap
    with it;
  * one molecule per IPU, 20 iterations, all unique ERI quartets (no screening);
  * the ERI and Fock phases spread evenly over all 1,472 tiles, the dense linear algebra over
    nao tiles, the Jacobi rounds over n tiles (PySCF-IPU's solver, see JACOBI_SWEEPS);
  * one FLOP rate for all work: the counts do not say which FLOPs could use the AMP units, so
    the phase split below is a model, and only the total is checked against a measurement.

Calibration (once): the only free constant is EFFICIENCY, the fraction of a tile's float32
AMP peak (32 FLOP/cycle) that the counted FLOPs achieve on the tiles doing them.
`benchmarks/ipu_model.py --calibrate` computes it (`calibrate`) for its first 10-heavy-atom
molecule, CC1=NOC(C)=C1C(N)=O (nao 58; 8.0e9 FLOPs per conformer as counted, the Fock build
reading P's lower-triangle blocks), under the qm1b preset, as the value that puts the
estimate on QM1B's published 134.6 ms per conformer on a Bow IPU (< 40,000 IPU-hours for
1.07e9 conformers): 0.00223. EFFICIENCY is 0.00225, within 1% of that, so the estimate for
this molecule is 1% under the published figure (each fit: benchmarks/results/tuning.md).
That is 0.072 FLOP per cycle per working tile: the rate of scalar float32 code in one of a
tile's six barrel-scheduled worker threads (one instruction every sixth cycle, about two
instructions per FLOP with the loads and address arithmetic: 1/12 FLOP per cycle, 0.26% of
the AMP peak). So the published throughput says PySCF-IPU's tiles ran at roughly
single-thread scalar speed, plausible for its hand-written ERI and Jacobi vertices and
pessimistic for matrix products; a far smaller value would have meant a missing term. Every
other size uses the same constants; everything else in the model is a published hardware
figure or a count (docs/device-model.md).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.extend.core as jax_core

from dftgen.device.specs import DeviceSpec

# fraction of the float32 AMP peak reached by the counted FLOPs, calibrated once on QM1B's
# published time per conformer (`benchmarks/ipu_model.py --calibrate`; module docstring)
EFFICIENCY = 0.00225
# PySCF-IPU's eigensolver (tessellate-ipu's `ipu_eigh`, called with num_iters=12): parallel
# Jacobi in the round-robin ordering on a matrix padded to even n, n/2 tiles holding two
# columns of A each and n/2 tiles two columns of the eigenvectors V; a sweep is n - 1 rounds.
JACOBI_SWEEPS = 12
# One round: an A tile computes its rotation and updates its two columns (6n FLOPs), then
# applies all n/2 rotations of the round to its columns' rows (6n); a V tile updates its two
# columns (6n). It receives two columns (2n floats) as the ordering moves them on, and the
# round's n/2 rotations (c, s, p, q: 2n words). Two exchanges, so two syncs.
JACOBI_FLOPS_PER_ROUND_PER_N = 12
JACOBI_WORDS_PER_ROUND_PER_N = 4
JACOBI_SYNCS_PER_ROUND = 2
# dense supersteps per iteration: two commutators X^T (F D S - S D F) X (4 matmuls each), the
# DIIS overlaps and extrapolation (2), X^T F X (2), X C (1) and C occ C^T (1)
LINEAR_ALGEBRA_SUPERSTEPS = 14
FLOAT32 = 4


@dataclasses.dataclass(frozen=True)
class ProgramCost:
    """XLA's count for one program: FLOPs and bytes accessed."""

    flops: float
    bytes_accessed: float

    @classmethod
    def of(cls, program) -> ProgramCost:
        """XLA's cost analysis of a lowered or compiled program, taken as it is: a loop body
        counts once, whatever its trip count."""
        analysis = program.cost_analysis()
        if isinstance(analysis, (list, tuple)):  # older JAX: one dict per device
            analysis = analysis[0]
        return cls(float(analysis.get("flops", 0.0)), float(analysis.get("bytes accessed", 0.0)))

    @classmethod
    def counted(cls, fn, *args) -> ProgramCost:
        """The cost of fn(*args) with every `scan` (lax.map, fori_loop with static bounds)
        counted as many times as it runs: XLA's analysis of the whole program, plus, for each
        loop, (trip count - 1) times XLA's analysis of its body (recursively for nested
        loops). The ERI program runs its tiles through lax.map, so XLA alone counts one
        tile of each class pair (far too few FLOPs).
        `while_loop`s have no static trip count and stay counted once."""
        closed = jax.make_jaxpr(fn)(*args)
        return _add(cls.of(_lowered(closed)), _missed_by_xla(closed.jaxpr))

    def scaled(self, factor: float) -> ProgramCost:
        return ProgramCost(factor * self.flops, factor * self.bytes_accessed)


def _add(a: ProgramCost, b: ProgramCost) -> ProgramCost:
    return ProgramCost(a.flops + b.flops, a.bytes_accessed + b.bytes_accessed)


def _lowered(closed):
    """A closed jaxpr lowered to XLA (not compiled: the cost analysis needs only the HLO)."""
    args = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in closed.jaxpr.invars]
    return jax.jit(jax_core.jaxpr_as_fun(closed)).lower(*args)


def _missed_by_xla(jaxpr) -> ProgramCost:
    """What XLA's one-pass count of `jaxpr` leaves out: the repeats of its loop bodies."""
    missed = ProgramCost(0.0, 0.0)
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            body, trips = eqn.params["jaxpr"], eqn.params["length"]
            once = ProgramCost.of(_lowered(body))
            missed = _add(missed, _add(once.scaled(trips - 1),
                                       _missed_by_xla(body.jaxpr).scaled(trips)))
            continue
        for value in eqn.params.values():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, jax_core.ClosedJaxpr):
                    missed = _add(missed, _missed_by_xla(item.jaxpr))
                elif isinstance(item, jax_core.Jaxpr):
                    missed = _add(missed, _missed_by_xla(item))
    return missed


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase of the program: seconds of compute, exchange and sync, and its counts."""

    name: str
    compute_s: float
    exchange_s: float
    sync_s: float
    supersteps: int
    repeats: int = 1

    @property
    def seconds(self) -> float:
        return self.repeats * (self.compute_s + self.exchange_s + self.sync_s)


@dataclasses.dataclass(frozen=True)
class Estimate:
    phases: tuple[Phase, ...]

    @property
    def ms_per_conformer(self) -> float:
        return 1e3 * sum(p.seconds for p in self.phases)

    def as_dict(self) -> dict:
        return {"estimated_ms_per_conformer": self.ms_per_conformer,
                "phases": [dict(dataclasses.asdict(p), ms=1e3 * p.seconds) for p in self.phases]}


def _superstep(device: DeviceSpec, flops: float, tiles: int, exchange_bytes: float,
               efficiency: float) -> tuple[float, float]:
    """(compute seconds, exchange seconds) of one superstep with its work on `tiles` tiles."""
    rate = device.float32_flops_per_cycle_per_tile * efficiency * device.clock_hz
    compute = flops / (max(min(tiles, device.tiles), 1) * rate)
    exchange = exchange_bytes / (device.exchange_bytes_per_cycle_per_tile * device.clock_hz)
    return compute, exchange


def jacobi(device: DeviceSpec, n: int, efficiency: float, name: str) -> Phase:
    """The parallel Jacobi eigensolver of PySCF-IPU on an n x n symmetric matrix with its
    eigenvectors (see JACOBI_SWEEPS): rounds of one rotation per A tile, n tiles in all."""
    n += n % 2
    rounds = JACOBI_SWEEPS * max(n - 1, 1)
    compute, exchange = _superstep(device, n * JACOBI_FLOPS_PER_ROUND_PER_N * n, n,
                                   JACOBI_WORDS_PER_ROUND_PER_N * n * FLOAT32, efficiency)
    syncs = rounds * JACOBI_SYNCS_PER_ROUND
    return Phase(name, rounds * compute, rounds * exchange, syncs * device.sync_seconds, syncs)


def estimate(device: DeviceSpec, nao: int, eri: ProgramCost, fock: ProgramCost,
             iterate: ProgramCost, iterations: int, diis_space: int,
             efficiency: float = EFFICIENCY) -> Estimate:
    """Time per conformer: ERIs, the initial Fock build, and `iterations` SCF iterations."""
    if not device.is_ipu:
        raise ValueError(f"the BSP cost model describes IPUs, not {device.name!r}")
    n2_bytes = nao * nao * FLOAT32
    reduce_rounds = math.ceil(math.log2(device.tiles))
    sync = device.sync_seconds

    eri_c, _ = _superstep(device, eri.flops, device.tiles, 0, efficiency)
    eri_phase = Phase("eri", eri_c, 0.0, sync, 1)

    # Fock build: broadcast D to every tile, accumulate J, K, V_xc per tile, then a
    # reduce-scatter and all-gather of the three partial matrices (2 x 3 nao^2 floats per tile)
    def fock_phase(name, repeats):
        c, x = _superstep(device, fock.flops, device.tiles, n2_bytes + 2 * 3 * n2_bytes,
                          efficiency)
        return Phase(name, c, x, (2 + 2 * reduce_rounds) * sync, 2 + 2 * reduce_rounds, repeats)

    linear_flops = max(iterate.flops - 2 * fock.flops, 0.0)
    lin_c, lin_x = _superstep(device, linear_flops, nao, LINEAR_ALGEBRA_SUPERSTEPS * n2_bytes,
                              efficiency)
    linear = Phase("linear_algebra", lin_c, lin_x, LINEAR_ALGEBRA_SUPERSTEPS * sync,
                   LINEAR_ALGEBRA_SUPERSTEPS, iterations)
    eigh = jacobi(device, nao, efficiency, "jacobi_eigh")
    diis = jacobi(device, diis_space + 1, efficiency, "jacobi_diis")
    per_iteration = [dataclasses.replace(p, repeats=iterations) for p in (eigh, diis)]
    return Estimate((eri_phase, fock_phase("initial_fock", 1), fock_phase("fock", iterations),
                     linear, *per_iteration))


def calibrate(target_ms: float, device: DeviceSpec, nao: int, eri: ProgramCost,
              fock: ProgramCost, iterate: ProgramCost, iterations: int, diis_space: int) -> float:
    """The EFFICIENCY that makes `estimate` give target_ms for this workload (compute time
    scales as 1/efficiency; exchange and sync do not)."""
    def parts(eff):
        est = estimate(device, nao, eri, fock, iterate, iterations, diis_space, eff)
        compute = sum(p.repeats * p.compute_s for p in est.phases)
        return compute, est.ms_per_conformer / 1e3 - compute

    compute_at_1, fixed = parts(1.0)
    if target_ms / 1e3 <= fixed:
        raise ValueError(f"exchange and sync alone take {fixed * 1e3:.1f} ms > {target_ms} ms")
    return compute_at_1 / (target_ms / 1e3 - fixed)
