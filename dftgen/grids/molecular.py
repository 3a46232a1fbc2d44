"""Molecular integration grids, equivalent to PySCF's default `dft.gen_grid.Grids`.

`build(mol, level)` puts a pruned Treutler-Ahlrichs x Lebedev grid on every atom, weights it
with Becke's partitioning (Treutler's radii adjustment), and then does what PySCF's
`Grids.build()` does by default: it sorts the points into boxes of about 1.2 Bohr (so that
neighbouring points are contiguous, which screening exploits) and appends zero-weight points
at (1e-4, 1e-4, 1e-4) Bohr up to a multiple of 8. Points, weights and their order equal
PySCF's to rounding.

The grid is built with numpy from concrete positions and is a constant of the calculation:
nuclear gradients through AO values on a fixed grid are PySCF's gradients without grid
response.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np

from dftgen.grids import becke
from dftgen.grids.atomic import atomic_grid, bragg_radius

# PySCF's grouping of points into boxes: nominal box edge and margin around the atoms, Bohr.
_BOX_EDGE = 1.2
_BOX_MARGIN = 4.2
# PySCF pads the grid to a multiple of this many points, at this position.
_ALIGNMENT = 8
_ALIGNMENT_POINT = 1e-4


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Grid:
    """A molecular integration grid: int f d^3r ~ sum_g weights[g] f(points[g]).

    Attributes:
        points: (npts, 3) in Bohr.
        weights: (npts,); padding points have weight zero.
    """

    points: np.ndarray
    weights: np.ndarray

    @property
    def size(self) -> int:
        return self.weights.shape[-1]


def build(mol, level: int = 3) -> Grid:
    """PySCF's default grid of a molecule at a level from 0 (coarse) to 9 (fine).

    Args:
        mol: a `dftgen.Molecule` with concrete (not traced) positions.
        level: as PySCF's `Grids.level`; 3 is PySCF's default, 0 is QM1B's.

    Returns:
        a Grid whose size is a multiple of 8.
    """
    atoms = np.asarray(mol.positions, dtype=np.float64)
    numbers = [int(z) for z in mol.numbers]
    adjustment = becke.size_adjustment(np.array([bragg_radius(z) for z in numbers]))
    templates = {z: atomic_grid(z, level) for z in set(numbers)}
    points, weights, owners = [], [], []
    for owner, z in enumerate(numbers):
        local, w = templates[z]
        points.append(local + atoms[owner])
        weights.append(w)
        owners.append(np.full(len(w), owner))
    points, owners = np.concatenate(points), np.concatenate(owners)
    weights = np.concatenate(weights) * becke.partition_weights(points, owners, atoms, adjustment)
    order = _box_order(points, atoms)
    return _align(Grid(points[order], weights[order]))


def size(numbers, level: int = 3) -> int:
    """Points of `build(mol, level)` for a molecule of these atomic numbers, padding included,
    without building it: positions change no size, elements do (their atomic grids differ)."""
    n = sum(_atomic_size(int(z), level) for z in numbers)
    return n + (-n % _ALIGNMENT)


@functools.lru_cache(maxsize=None)
def _atomic_size(z: int, level: int) -> int:
    return len(atomic_grid(z, level)[1])


def _box_order(points: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """Stable permutation grouping points by box, boxes in lexicographic (x, y, z) order.

    The boxes tile the atoms' bounding box widened by a margin; points outside it fall into
    one layer of boxes around it.
    """
    lower = atoms.min(axis=0) - _BOX_MARGIN
    extent = atoms.max(axis=0) + _BOX_MARGIN - lower
    nboxes = np.round(extent * (1.0 / _BOX_EDGE)).astype(int)
    edge = extent / nboxes
    index = np.floor((points - lower) * (1.0 / edge)).astype(int)
    index = np.clip(index, -1, nboxes)
    return np.lexsort((index[:, 2], index[:, 1], index[:, 0]))


def _align(grid: Grid) -> Grid:
    """Append PySCF's zero-weight alignment points up to a multiple of 8."""
    missing = -grid.size % _ALIGNMENT
    filler = np.full((missing, 3), _ALIGNMENT_POINT)
    return Grid(np.concatenate([grid.points, filler]), np.concatenate([grid.weights, np.zeros(missing)]))


def pad(grid: Grid, npts: int) -> Grid:
    """The grid padded to `npts` points with zero-weight points, for batching molecules.

    Padding points sit on the real grid point nearest the centroid of the grid, inside the
    molecule, so AO values, densities and their derivatives there are those of an ordinary
    point (finite, not underflowing); with weight zero they change no integral.

    Raises:
        ValueError: the grid has more than `npts` points.
    """
    points, weights = np.asarray(grid.points), np.asarray(grid.weights)
    if npts < len(weights):
        raise ValueError(f"cannot pad a grid of {len(weights)} points to {npts}")
    centre = points.mean(axis=0)
    anchor = points[np.argmin(np.linalg.norm(points - centre, axis=1))]
    filler = np.repeat(anchor[None, :], npts - len(weights), axis=0)
    return Grid(np.concatenate([points, filler]), np.concatenate([weights, np.zeros(len(filler))]))
