"""ERI shell quartets mapped onto IPU tiles by a load balancer under the per-tile SRAM budget.

The unit of work is a quartet of shell *groups*: shells of one atom that share exponents
(STO-3G's 2s and 2p form one sp group of four functions), evaluated together as the ERI code
does. A unit's bytes are what the analytic model (`dftgen.device.memory`) charges its ERI phase:
one float32 per unique primitive quartet plus one per unique contracted quartet. The units are
placed by longest-processing-time-first (each, largest first, onto the least loaded tile),
which keeps the largest tile within 4/3 of optimal (Graham 1969) and, with many small units,
within one unit of the mean. In the SCF phase each tile keeps its contracted integrals, the
replicated D, J and K, and an even share of the grid and SCF buffers.
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np

from dftgen.basis import BasisSet
from dftgen.device.memory import FLOAT32, REPLICATED_MATRICES, Footprint
from dftgen.device.specs import DeviceSpec

HISTOGRAM_BINS = 10


def shell_groups(basis: BasisSet) -> tuple[np.ndarray, np.ndarray]:
    """(functions, primitive functions) of each shell group, groups in order of appearance."""
    sizes: dict[tuple, list[int]] = {}
    for s in basis.shells:
        entry = sizes.setdefault((s.atom, s.exponents), [0, 0])
        entry[0] += s.nfunc
        entry[1] += s.nfunc * s.nprim
    arr = np.array(list(sizes.values()), dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def _pair_counts(n: np.ndarray) -> np.ndarray:
    """Unique function pairs of every group pair a >= b, in row-major lower-triangle order."""
    a, b = np.tril_indices(len(n))
    return np.where(a == b, n[a] * (n[a] + 1) // 2, n[a] * n[b])


def _quartet_counts(pairs: np.ndarray) -> np.ndarray:
    """Unique quartets of every unit (pair ab >= pair cd), same ordering convention."""
    ab, cd = np.tril_indices(len(pairs))
    return np.where(ab == cd, pairs[ab] * (pairs[ab] + 1) // 2, pairs[ab] * pairs[cd])


def unit_bytes(basis: BasisSet) -> tuple[np.ndarray, np.ndarray]:
    """ERI-phase bytes of every unique group quartet (primitive plus contracted integrals),
    and the contracted integrals' share of them, which stays resident for the SCF."""
    functions, primitives = shell_groups(basis)
    contracted = _quartet_counts(_pair_counts(functions))
    primitive = _quartet_counts(_pair_counts(primitives))
    return (contracted + primitive) * FLOAT32, contracted * FLOAT32


def balance(loads: np.ndarray, tiles: int) -> np.ndarray:
    """Tile index of every unit: longest processing time first onto the least loaded tile."""
    owner = np.empty(len(loads), dtype=np.int64)
    heap = [(0, t) for t in range(tiles)]
    for unit in np.argsort(-loads, kind="stable"):
        load, tile = heapq.heappop(heap)
        owner[unit] = tile
        heapq.heappush(heap, (load + int(loads[unit]), tile))
    return owner


@dataclasses.dataclass(frozen=True)
class TileMap:
    """Per-tile bytes of both phases and a summary.

    eri_bytes, scf_bytes: (tiles,) bytes each tile holds in the ERI and SCF phases.
    budget_bytes: SRAM of one tile.   units: group quartets placed.
    """

    eri_bytes: np.ndarray
    scf_bytes: np.ndarray
    budget_bytes: int
    units: int

    @property
    def peak_bytes(self) -> np.ndarray:
        return np.maximum(self.eri_bytes, self.scf_bytes)

    @property
    def tiles_used(self) -> int:
        return int(np.count_nonzero(self.eri_bytes))

    @property
    def fits(self) -> bool:
        return int(self.peak_bytes.max()) <= self.budget_bytes

    def histogram(self) -> tuple[list[int], list[int]]:
        """Counts of tiles by peak bytes, in HISTOGRAM_BINS equal bins from 0 to the budget
        (a tile over budget lands in an extra last bin), and the bin edges in bytes."""
        edges = np.linspace(0, self.budget_bytes, HISTOGRAM_BINS + 1).astype(np.int64)
        edges = np.append(edges, max(int(self.peak_bytes.max()), self.budget_bytes) + 1)
        counts, _ = np.histogram(self.peak_bytes, bins=edges)
        return counts.tolist(), edges.tolist()

    def summary(self) -> dict:
        peak = self.peak_bytes
        counts, edges = self.histogram()
        return {
            "tiles_used": self.tiles_used,
            "units": self.units,
            "budget_bytes_per_tile": self.budget_bytes,
            "max_bytes_per_tile": int(peak.max()),
            "mean_bytes_per_tile": float(peak.mean()),
            "max_over_mean": float(peak.max() / peak.mean()),
            "eri_max_bytes_per_tile": int(self.eri_bytes.max()),
            "scf_max_bytes_per_tile": int(self.scf_bytes.max()),
            "tiles_over_budget": int(np.count_nonzero(peak > self.budget_bytes)),
            "histogram_counts": counts,
            "histogram_edges_bytes": edges,
            "fits": self.fits,
        }


def tile_map(basis: BasisSet, footprint: Footprint, device: DeviceSpec) -> TileMap:
    """Place the ERI units of `basis` on the device's tiles and add the SCF phase's buffers."""
    total, contracted = unit_bytes(basis)
    owner = balance(total, device.tiles)
    eri = np.bincount(owner, weights=total, minlength=device.tiles).astype(np.int64)
    resident = np.bincount(owner, weights=contracted, minlength=device.tiles).astype(np.int64)
    replicated = REPLICATED_MATRICES * basis.nao**2 * FLOAT32
    spread = sum(t.bytes for t in footprint.terms
                 if t.phase == "scf" and t.name != "replicated_djk")
    scf = resident + replicated + -(-spread // device.tiles)
    return TileMap(eri, scf, device.sram_per_tile_bytes, len(total))
