"""AO values on a grid evaluated chunk by chunk for the shells that matter on each chunk.

PySCF's XC integration skips, block by block of grid points, the shells whose values are
negligible there (its `non0tab`). `ScreenedSource` does the same for an `AOSource`: the
grid's points are cut into chunks of CHUNK consecutive points (they lie atom by atom and
radial shell by radial shell, so a chunk is a compact region of space), and a chunk keeps
the shells with an AO value or gradient component of at least CUTOFF at one of its points.
The XC kernel evaluates the kept shells only and multiplies by the matching rows and columns
of the density matrix: at 20 heavy atoms in def2-SVP a chunk keeps about 45% of the AOs, so
the products a chunk costs are about a fifth of the unscreened ones.

Static shapes: chunks are sorted by how many AOs they keep and split into GROUPS groups;
within a group every chunk keeps the same number of shells of each kind (l, nprim,
cartesian), the shorter lists padded with a dead shell (zero coefficients, its rows sent to
a dump row nao). The screen is made once per molecule, from one evaluation of every AO
value (what one XC build without it costs).

Where memory allows (`hold`), the kept values of a group's chunks are evaluated once and
held, as the unscreened values are held where they fit: the SCF then evaluates AO values
only for the groups that did not fit.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables
from dftgen.grids.orbitals import AOSource, _Layout, _shell_group

CHUNK = 2048  # grid points per chunk: finer screening against thinner products
CUTOFF = 1e-12  # an AO's value or gradient component below it on a whole chunk is dropped
GROUPS = 4  # chunk groups, each padded to its largest chunk's shells of each kind


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class ChunkGroup:
    """Chunks that keep equally many shells of each kind, n of them.

    starts (n,): each chunk's first point; first (n,): its points before this one belong to
    the chunk before (the last chunk ends at the last point, overlapping the one before);
    shells, live: per kind of the basis layout, (n, m_k) shell indices and 1.0 for a kept
    shell, 0.0 for padding; aos (n, rows): the AO (PySCF order) of each row of the chunk's
    values, nao for padding rows.
    """

    starts: jax.Array
    first: jax.Array
    shells: tuple
    live: tuple
    aos: jax.Array

    def tree_flatten(self):
        return (self.starts, self.first, self.shells, self.live, self.aos), None

    @classmethod
    def tree_unflatten(cls, _, leaves):
        return cls(*leaves)


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class ScreenedSource:
    """An `AOSource` with its screen: chunk groups (`ChunkGroup`) of `chunk` points; held,
    per group, its chunks' values (n, 1 + 3 deriv, rows, chunk) in float64 (`hold`), or
    None where they are evaluated at every build."""

    source: AOSource
    groups: tuple
    chunk: int
    held: tuple | None = None

    @property
    def deriv(self) -> int:
        return self.source.deriv

    @property
    def npts(self) -> int:
        return self.source.npts

    def padded(self, npts: int) -> AOSource:
        """The unscreened source padded to npts points: molecules batched together share no
        screen."""
        return self.source.padded(npts)

    def values(self, start, shells: tuple, live: tuple) -> jax.Array:
        """(1 + 3 deriv, rows, chunk): values of the kept shells (shells, live: one chunk's
        of a `ChunkGroup`) at points start..start+chunk, rows in the group's order."""
        src, layout = self.source, _Layout.of(self.source.shape_key)
        points = jax.lax.dynamic_slice_in_dim(src.points, start, self.chunk).T
        centres = src.positions[layout.shell_atom]
        return jnp.concatenate([
            _shell_group(points, centres[idx], src.exponents[idx, :nprim],
                         src.coefficients[idx, :nprim] * on[:, None], l, cartesian, src.deriv)
            for (l, nprim, cartesian, _), idx, on in zip(layout.groups, shells, live)
            if idx.shape[0]], axis=1)

    def group_values(self, k: int):
        """Group k's held values, or None (`held`)."""
        return None if self.held is None else self.held[k]

    def tree_flatten(self):
        return (self.source, self.groups, self.held), self.chunk

    @classmethod
    def tree_unflatten(cls, chunk, leaves):
        source, groups, held = leaves
        return cls(source, groups, chunk, held)


@executables.jit(static_argnums=2)
def _peaks(source: AOSource, start, size: int) -> jax.Array:
    """(nao,): the largest |value| or |gradient component| of each AO on points
    start..start+size."""
    return jnp.max(jnp.abs(source.block(start, size)), axis=(0, 2))


def screen(source: AOSource, chunk: int = CHUNK, cutoff: float = CUTOFF) -> ScreenedSource:
    """The screen of `source` (module docstring), from concrete arrays."""
    layout = _Layout.of(source.shape_key)
    npts = source.npts
    size = min(chunk, npts)
    regular = np.arange(0, npts, size)
    starts = np.minimum(regular, npts - size)
    nfunc, ao_loc = layout.nfunc, layout.ao_loc
    peaks = np.stack([np.asarray(_peaks(source, int(s), size)) for s in starts])
    kept = np.maximum.reduceat(peaks, ao_loc[:-1], axis=1) >= cutoff  # (nchunk, nshell)
    order = np.argsort((kept * nfunc).sum(axis=1), kind="stable")
    groups = []
    for members in np.array_split(order, min(GROUPS, len(order))):
        shell_lists, live_lists, aos = [], [], []
        for *_, idx in layout.groups:
            keep = kept[members][:, idx]
            m = max(1, int(keep.sum(axis=1).max()))  # >= 1: no chunk without rows
            # kept shells first (stable), then dead copies of the kind's first shell
            rank = np.argsort(~keep, axis=1, kind="stable")[:, :m]
            shell_lists.append(idx[rank])
            live_lists.append(np.take_along_axis(keep, rank, axis=1))
            rows = ao_loc[idx[rank]][..., None] + np.arange(nfunc[idx[0]])
            aos.append(np.where(live_lists[-1][..., None], rows, ao_loc[-1]).reshape(len(members), -1))
        groups.append(ChunkGroup(
            jnp.asarray(starts[members], jnp.int32), jnp.asarray(regular[members] - starts[members], jnp.int32),
            tuple(jnp.asarray(s, jnp.int32) for s in shell_lists),
            tuple(jnp.asarray(v, source.coefficients.dtype) for v in live_lists),
            jnp.asarray(np.concatenate(aos, axis=1), jnp.int32)))
    return ScreenedSource(source, tuple(groups), size)


def kept_fraction(screened: ScreenedSource) -> float:
    """The fraction of (AO, chunk) pairs the screen keeps, padding rows not counted."""
    nao = int(_Layout.of(screened.source.shape_key).ao_loc[-1])
    kept = sum(int(np.count_nonzero(np.asarray(g.aos) < nao)) for g in screened.groups)
    chunks = sum(g.starts.shape[0] for g in screened.groups)
    return kept / (chunks * nao)


def value_bytes(screened: ScreenedSource, group: ChunkGroup) -> int:
    """Bytes of a group's chunks' values in float64."""
    n, rows = group.aos.shape
    return n * (1 + 3 * screened.deriv) * rows * screened.chunk * 8


@executables.jit
def _group_values(screened: ScreenedSource, group: ChunkGroup) -> jax.Array:
    return jax.lax.map(lambda c: screened.values(*c), (group.starts, group.shells, group.live))


def hold(screened: ScreenedSource, most_bytes: int) -> ScreenedSource:
    """`screened` with the values of its groups held, fewest AOs first, as many as fit in
    most_bytes (float64)."""
    held, left = [], most_bytes
    for group in screened.groups:
        size = value_bytes(screened, group)
        held.append(_group_values(screened, group) if size <= left else None)
        left -= size if size <= left else 0
    return dataclasses.replace(screened, held=tuple(held))
