"""Atom-centred grids: radial and angular sizes per level, NWChem pruning, assembly.

The sizes for each grid level are PySCF's (`pyscf.dft.gen_grid`, levels 0 to 9): a number of
Treutler-Ahlrichs radial shells and a Lebedev grid size, both depending on the row of the
periodic table. Pruning follows NWChem: shells close to the nucleus and far out get smaller
Lebedev grids, chosen by the shell's radius relative to the atom's Bragg-Slater radius.
"""

from __future__ import annotations

import numpy as np

from dftgen.elements import ANGSTROM_BOHR
from dftgen.grids import lebedev
from dftgen.grids.radial import treutler_ahlrichs

# Bragg-Slater atomic radii in Angstrom for H..Kr (J. C. Slater, J. Chem. Phys. 41, 3199,
# 1964; H as in Becke's partitioning paper), index Z - 1.
BRAGG_RADII_ANGSTROM = (
    0.35, 1.40,
    1.45, 1.05, 0.85, 0.70, 0.65, 0.60, 0.50, 1.50,
    1.80, 1.50, 1.25, 1.10, 1.00, 1.00, 1.00, 1.80,
    2.20, 1.80,
    1.60, 1.40, 1.35, 1.40, 1.40, 1.40, 1.35, 1.35, 1.35, 1.35,
    1.30, 1.25, 1.15, 1.15, 1.15, 1.90,
)

# Per level (rows 0..9) and periodic-table row (columns: periods 1..4, i.e. H-He, Li-Ne,
# Na-Ar, K-Kr): number of radial shells, and number of Lebedev points before pruning.
RADIAL_SHELLS = np.array((
    (10, 15, 20, 30),
    (30, 40, 50, 60),
    (40, 60, 65, 75),
    (50, 75, 80, 90),
    (60, 90, 95, 105),
    (70, 105, 110, 120),
    (80, 120, 125, 135),
    (90, 135, 140, 150),
    (100, 150, 155, 165),
    (200, 200, 200, 200),
))
ANGULAR_POINTS = np.array((
    (50, 86, 110, 110),
    (110, 194, 194, 194),
    (194, 302, 302, 302),
    (302, 302, 434, 434),
    (434, 590, 590, 590),
    (590, 770, 770, 770),
    (770, 974, 974, 974),
    (974, 1202, 1202, 1202),
    (1202, 1202, 1202, 1202),
    (1454, 1454, 1454, 1454),
))
LEVELS = range(len(RADIAL_SHELLS))

# NWChem pruning: thresholds on r / R_Bragg separating five radial regions, per element block.
_PRUNE_THRESHOLDS = {
    "H-He": (0.25, 0.5, 1.0, 4.5),
    "Li-Ne": (0.1667, 0.5, 0.9, 3.5),
    "Na-": (0.1, 0.4, 0.8, 2.5),
}

# PySCF's atom grids group radial shells of one Lebedev size in blocks of this many shells.
_SHELL_BLOCK = 12


def bragg_radius(z: int) -> float:
    """Bragg-Slater radius of element z in Bohr."""
    return BRAGG_RADII_ANGSTROM[z - 1] * ANGSTROM_BOHR


def period(z: int) -> int:
    """Row of the periodic table (1 for H-He, 2 for Li-Ne, ...)."""
    return 1 + sum(z > closed for closed in (2, 10, 18, 36))


def default_sizes(z: int, level: int) -> tuple[int, int]:
    """(radial shells, Lebedev points) of element z at a grid level (0..9)."""
    if level not in LEVELS:
        raise ValueError(f"grid level must be 0..{LEVELS[-1]}, got {level}")
    col = period(z) - 1
    return int(RADIAL_SHELLS[level, col]), int(ANGULAR_POINTS[level, col])


def nwchem_pruning(z: int, r: np.ndarray, n_ang: int) -> np.ndarray:
    """Lebedev size of each radial shell of element z under NWChem's pruning.

    The five regions delimited by the thresholds get (from the nucleus outwards) 50, 86,
    the next size below n_ang, n_ang, and the next size below n_ang again. A full grid of 50
    points is pruned to 50/74/74/74/50; smaller grids are not pruned.
    """
    if n_ang < 50:
        return np.full(len(r), n_ang)
    ladder = [n for n in lebedev.sizes() if n >= 38]
    if n_ang == 50:
        regions = (50, 74, 74, 74, 50)
    else:
        below = ladder[ladder.index(n_ang) - 1]
        regions = (50, 86, below, n_ang, below)
    block = "H-He" if z <= 2 else "Li-Ne" if z <= 10 else "Na-"
    thresholds = np.array(_PRUNE_THRESHOLDS[block])
    region = (r[:, None] / bragg_radius(z) > thresholds).sum(axis=1)
    return np.array(regions)[region]


def atomic_grid(z: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    """The pruned grid of one atom of element z, centred on the origin, in PySCF's order.

    Returns:
        points: (n, 3) in Bohr.
        weights: (n,) quadrature weights of int f d^3r (4 pi r^2 dr times Lebedev weights).

    Order: by Lebedev size (ascending); within one size, blocks of up to 12 radial shells
    (ascending r); within a block, angular point outermost and radial shell innermost.
    """
    n_rad, n_ang = default_sizes(z, level)
    r, w_r = treutler_ahlrichs(n_rad, z)
    w_r = 4.0 * np.pi * r**2 * w_r
    ang_sizes = nwchem_pruning(z, r, n_ang)
    points, weights = [], []
    for size in np.unique(ang_sizes):
        unit, w_ang = lebedev.grid(int(size))
        shells = np.flatnonzero(ang_sizes == size)
        for start in range(0, len(shells), _SHELL_BLOCK):
            block = shells[start : start + _SHELL_BLOCK]
            points.append((unit[:, None, :] * r[block, None]).reshape(-1, 3))
            weights.append((w_ang[:, None] * w_r[block]).reshape(-1))
    return np.concatenate(points), np.concatenate(weights)
