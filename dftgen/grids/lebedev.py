"""Lebedev-Laikov quadrature on the unit sphere.

A Lebedev grid is a union of orbits of the octahedral group with reflections (order 48).
Each orbit is fixed by one generator point (x, y, z) on the sphere and shares one weight;
Lebedev & Laikov (Dokl. Math. 59, 477, 1999) tabulate the generators and weights. The
generators of every grid live in `dftgen/data/lebedev.json` as

    {"<npts>": [[orbit_type, x, y, z, weight], ...], ...}

with weights normalised to sum to one over the sphere (multiply by 4 pi for the surface
integral). The orbit types, named as in Lebedev's papers, are

    a1  (1, 0, 0)        6 points     b  (l, l, m)   24 points
    a2  (0, a, a)       12 points     c  (p, q, 0)   24 points
    a3  (a, a, a)        8 points     d  (r, s, t)   48 points

An orbit is expanded by permuting the generator's components and then flipping the signs
of its non-zero components. The order of permutations and sign patterns below is the one
of Lebedev & Laikov's reference implementation (used by PySCF), so points come out in the
same order as PySCF's angular grids.
"""

from __future__ import annotations

import functools
import itertools
import json
from importlib import resources

import numpy as np

# For each orbit type: which generator component goes to x, y and z, one tuple per
# distinct permutation of the generator.
_PERMUTATIONS = {
    "a1": ((0, 1, 2), (1, 0, 2), (1, 2, 0)),
    "a2": ((0, 1, 2), (1, 0, 2), (1, 2, 0)),
    "a3": ((0, 1, 2),),
    "b": ((0, 1, 2), (0, 2, 1), (2, 0, 1)),
    "c": ((0, 1, 2), (1, 0, 2), (0, 2, 1), (1, 2, 0), (2, 0, 1), (2, 1, 0)),
    "d": tuple(itertools.permutations(range(3))),
}


def orbit(kind: str, generator) -> np.ndarray:
    """The points of one octahedral orbit, shape (n, 3), in Lebedev-Laikov order.

    Args:
        kind: orbit type, one of "a1", "a2", "a3", "b", "c", "d".
        generator: (x, y, z) with the zero and repeated components where `kind` puts them
            (e.g. (0, a, a) for "a2", (l, l, m) for "b").
    """
    generator = np.asarray(generator, dtype=np.float64)
    points = []
    for perm in _PERMUTATIONS[kind]:
        base = generator[list(perm)]
        nonzero = np.flatnonzero(base)
        # sign patterns as a binary counter over the non-zero components, x fastest
        for pattern in range(2 ** len(nonzero)):
            point = base.copy()
            for bit, axis in enumerate(nonzero):
                if pattern >> bit & 1:
                    point[axis] = -point[axis]
            points.append(point)
    return np.array(points)


@functools.lru_cache(maxsize=1)
def _table() -> dict[int, list]:
    text = resources.files("dftgen").joinpath("data/lebedev.json").read_text()
    return {int(n): orbits for n, orbits in json.loads(text).items() if n.isdigit()}


def sizes() -> tuple[int, ...]:
    """The numbers of points of the available Lebedev grids, ascending."""
    return tuple(sorted(_table()))


@functools.lru_cache(maxsize=None)
def grid(npts: int) -> tuple[np.ndarray, np.ndarray]:
    """The Lebedev grid with `npts` points.

    Returns:
        points: (npts, 3) unit vectors.
        weights: (npts,), summing to one.

    Raises:
        ValueError: no Lebedev grid has `npts` points.
    """
    if npts not in _table():
        raise ValueError(f"no Lebedev grid with {npts} points; available: {sizes()}")
    points, weights = [], []
    for kind, x, y, z, w in _table()[npts]:
        block = orbit(kind, (x, y, z))
        points.append(block)
        weights.append(np.full(len(block), w))
    points, weights = np.concatenate(points), np.concatenate(weights)
    points.setflags(write=False)
    weights.setflags(write=False)
    return points, weights
