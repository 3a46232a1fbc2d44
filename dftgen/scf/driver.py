"""`run_batch`: from molecules to energies, orbitals and forces on JAX's default backend;
`run_setups` is the same loop for a caller that chooses how each molecule's arrays are built
and how a batch is mapped (the device layer).

Each molecule is set up (basis, grid) and assembled (integrals, AO values, guess) on the host,
the compiled iterations (`dftgen.scf.iterations.iterate`) run, and the final energy and
orbital energies are evaluated once more: in float64 when the iterations ran in float32 (the
qm1b preset). Molecules are grouped by shape bucket (equal basis structure), their grids padded
to one size with zero-weight points, and each bucket runs through one vmapped, compiled
program; padding never changes a number.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables, grids, threads, xc
from dftgen.integrals import df
from dftgen.molecule import Molecule
from dftgen.presets import Settings
from dftgen.scf.iterations import SCFInputs, iterate
from dftgen.scf.problem import Problem, Setup, assemble, physical_memory, setup, working_bytes
from dftgen.scf.result import DFTResult, finish

GRID_PAD_MULTIPLE = 256  # batched grids are padded to a multiple of this many points
ORBITAL_MULTIPLE = 8  # occupied orbitals an exact-ERI bucket's XC takes, rounded up to this

# fn(one molecule's inputs) -> state, mapped over a stacked batch
BatchMap = Callable[[Callable, SCFInputs], object]


def run_batch(mols: list[Molecule], settings: Settings, *, forces: bool = False,
              keep_orbitals: bool = False) -> list[DFTResult]:
    """Restricted Kohn-Sham (or Hartree-Fock, xc="hf") for closed-shell molecules on JAX's
    default backend, one compiled program per shape bucket; results in input order. Forces
    (-dE/dR, Hartree/Bohr) come from JAX autodiff of the energy at the final density;
    keep_orbitals keeps mo_coeff and the density matrix."""
    return run_setups([setup(mol, settings) for mol in mols], settings, forces=forces,
                      keep_orbitals=keep_orbitals)


def run_setups(setups: list[Setup], settings: Settings, *, forces: bool = False,
               keep_orbitals: bool = False,
               build: Callable[[Setup, Settings], Problem] = assemble,
               map_batch: BatchMap | None = None) -> list[DFTResult]:
    """Bucket by bucket: a bucket's arrays (the P supermatrix: nao^4/8 values a molecule) are
    built, iterated and released before the next bucket's are made. Where the process has
    several CPU devices (`dftgen.threads`) and no map_batch is given, each bucket is split
    into a share a device and the shares run side by side, one a device at a time, as many
    at once as half of the machine's memory holds (`working_bytes`).

    build: makes one molecule's Problem (default `assemble`; a device layer checks and
        admits the molecule there). map_batch: maps the one-molecule SCF over a stacked
        bucket (default one vmapped program on the current device).
    """
    buckets: dict[tuple, list[int]] = {}
    for i, s in enumerate(setups):
        naux = None if s.auxbasis is None else s.auxbasis.nao  # fitted ERIs stack by naux
        buckets.setdefault((s.basis.shape_key, naux), []).append(i)
    results: list[DFTResult | None] = [None] * len(setups)

    def run_share(indices: list[int]) -> None:
        group = [build(setups[i], settings) for i in indices]
        n_orbitals = orbitals_needed([p.work for p in group], settings)
        start = time.perf_counter()
        states = jax.block_until_ready(iterate_bucket([p.work for p in group], settings,
                                                      map_batch))
        elapsed = (time.perf_counter() - start) / len(group)
        for k, (i, p) in enumerate(zip(indices, group)):
            p.timings["scf_s"] = elapsed
            results[i] = finish(p, jax.tree.map(lambda a: a[k], states), settings, forces,
                                keep_orbitals, n_orbitals)

    if map_batch is not None:
        for indices in buckets.values():
            run_share(indices)
        return results
    # as many molecules side by side as half of the machine's memory holds
    side_by_side = max(1, min(len(threads.devices()), physical_memory() // 2 // max(
        (working_bytes(setups[indices[0]]) for indices in buckets.values()), default=1)))
    shares = [share.tolist() for indices in buckets.values()
              for share in np.array_split(indices, min(side_by_side, len(indices)))]
    shares.sort(key=lambda share: -len(share) * setups[share[0]].basis.nao ** 3)  # largest first
    threads.map_devices(run_share, shares, side_by_side)
    return results


def iterate_bucket(inputs: list[SCFInputs], settings: Settings, map_batch: BatchMap | None = None):
    """The SCF states of one bucket, stacked on a leading axis: a single molecule directly,
    several through one vmapped program or `map_batch`."""
    n_orbitals = orbitals_needed(inputs, settings)
    if len(inputs) == 1 and map_batch is None:
        return jax.tree.map(lambda a: np.asarray(a)[None], iterate(inputs[0], settings, n_orbitals))
    npts = max(i.weights.shape[0] for i in inputs)
    npts = -(-npts // GRID_PAD_MULTIPLE) * GRID_PAD_MULTIPLE
    width = max((i.dm0_orbitals.shape[1] for i in inputs if i.dm0_orbitals is not None),
                default=0)
    stacked = jax.tree.map(lambda *a: jnp.stack(a),
                           *[_pad_guess(_pad_grid(i, npts), width) for i in inputs])
    if map_batch is not None:
        return map_batch(iterate_one(settings, n_orbitals), stacked)
    return _batched_iterate(settings, n_orbitals)(stacked)


def orbitals_needed(inputs: list[SCFInputs], settings: Settings) -> int | None:
    """How many occupied orbitals the bucket's Fock builds take beside the density, or None.

    Fitted ERIs: the most occupied orbitals of the bucket (exchange from orbitals,
    `df.exchange`). Exact ERIs gain nothing from them, but the XC kernel does where 2 n < nao
    (`xc.vxc`: polarised bases); there n is rounded up to ORBITAL_MULTIPLE, so that buckets of
    nearby electron counts share one program.
    """
    n = max(int(np.count_nonzero(np.asarray(i.occ))) for i in inputs)
    if isinstance(inputs[0].eri, df.FittedERI):
        return n
    n = -(-n // ORBITAL_MULTIPLE) * ORBITAL_MULTIPLE
    has_grid = xc.functional(settings.xc).terms
    return n if has_grid and 2 * n < inputs[0].h.shape[-1] else None


@functools.lru_cache(maxsize=None)
def iterate_one(settings: Settings, n_orbitals: int | None = None):
    """The SCF of one molecule with its settings bound (one object per setting, so compiled
    programs are reused); n_orbitals as `iterate` takes it."""
    return functools.partial(iterate, settings=settings, n_orbitals=n_orbitals)


@functools.lru_cache(maxsize=None)
def _batched_iterate(settings: Settings, n_orbitals: int | None):
    return executables.jit(jax.vmap(iterate_one(settings, n_orbitals)),
                           name="dftgen.scf.driver.batched_iterate", context=(settings, n_orbitals))


def grid_points(numbers, settings: Settings) -> int:
    """Grid points of a molecule of these atomic numbers at `settings` (0 for Hartree-Fock,
    which has no grid). Beside the basis set's structure (a shape bucket), this decides the
    shapes of its AO, SCF and final-evaluation programs: one bucket holds several grid sizes
    when its elements' atomic grids differ (C and N at every level)."""
    return grids.size(numbers, settings.grid_level) if xc.functional(settings.xc).terms else 0


def _pad_grid(inputs: SCFInputs, npts: int) -> SCFInputs:
    """Zero-weight grid points up to npts (zero-valued, or a copy of the last point where
    the AO values are evaluated from an `AOSource`; a screened one loses its screen, which
    the batch's other molecules do not share): they add nothing to any integral."""
    extra = npts - inputs.weights.shape[0]
    if extra == 0:
        return inputs
    ao = (inputs.ao.padded(npts) if isinstance(inputs.ao, (grids.AOSource, grids.ScreenedSource))
          else jnp.pad(inputs.ao, [(0, 0), (0, 0), (0, extra)]))
    return inputs._replace(ao=ao, weights=jnp.pad(inputs.weights, (0, extra)))


def _pad_guess(inputs: SCFInputs, width: int) -> SCFInputs:
    """Zero columns of the guess's orbitals up to width: dm0 stays their product."""
    f = inputs.dm0_orbitals
    if f is None or f.shape[1] == width:
        return inputs
    return inputs._replace(dm0_orbitals=jnp.pad(f, [(0, 0), (0, width - f.shape[1])]))
