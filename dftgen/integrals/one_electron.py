"""One-electron integrals by McMurchie-Davidson: overlap S, kinetic energy T, nuclear
attraction V, and the nuclear repulsion energy.

    S_mn = (pi/p)^(3/2) E_000,
    T_mn = -1/2 <m|nabla^2|n>              (overlaps with shifted powers, see pairs.py),
    V_mn = -sum_C Z_C 2pi/p sum_h E_h R_h(p, P - C).

Matrices are (nao, nao) in PySCF's AO order (spherical or Cartesian shells), in Hartree
atomic units. Every function is differentiable with respect to the positions (they may be
JAX tracers).
The `*_matrix(layout, arrays)` kernels are pure functions of traced arrays: vmap them over
`layout.stack(...)` to batch molecules of one shape bucket.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dftgen.basis import BasisSet
from dftgen.integrals.hermite import coulomb_hermite
from dftgen.integrals.layout import (BasisArrays, Layout, PairClass, layout_and_arrays,
                                     trace_counts)
from dftgen.integrals.pairs import kinetic_pairs, max_l, pair_data
from dftgen.precision import dtype as precision_dtype


def _assemble(layout: Layout, blocks, n_rows: int | None = None) -> jnp.ndarray:
    """Scatter per-class blocks (npair, nfunc_a * nfunc_b) into a (nao, nao) matrix, or with
    n_rows its block [:n_rows, n_rows:] (which the pairs must fill)."""
    rows, cols, values = [], [], []
    for cls, block in blocks:
        aos_a = np.array([layout.groups[a].aos for a, _ in cls.pairs])
        aos_b = np.array([layout.groups[b].aos for _, b in cls.pairs]) - (n_rows or 0)
        rows.append(np.broadcast_to(aos_a[:, :, None], (len(aos_a), aos_a.shape[1], aos_b.shape[1])).ravel())
        cols.append(np.broadcast_to(aos_b[:, None, :], (len(aos_a), aos_a.shape[1], aos_b.shape[1])).ravel())
        values.append(block.reshape(-1))
    shape = (layout.nao, layout.nao) if n_rows is None else (n_rows, layout.nao - n_rows)
    out = jnp.zeros(shape, dtype=values[0].dtype)
    return out.at[np.concatenate(rows), np.concatenate(cols)].set(jnp.concatenate(values), unique_indices=True)


def _overlap_block(layout: Layout, cls: PairClass, arrays: BasisArrays) -> jnp.ndarray:
    """Overlaps (npair, nfunc_a * nfunc_b) of a pair class."""
    pd = pair_data(layout, cls, arrays)
    return jnp.einsum("xq,xqf->xf", (jnp.pi / pd.p) ** 1.5, pd.e[:, :, 0])


def overlap_matrix(layout: Layout, arrays: BasisArrays) -> jnp.ndarray:
    """S (nao, nao) from traced arrays (pure; vmappable)."""
    trace_counts["overlap"] += 1
    return _assemble(layout, [(cls, _overlap_block(layout, cls, arrays))
                              for cls in layout.pair_classes(unique=False, pad=True)])


def cross_overlap_matrix(layout: Layout, arrays: BasisArrays, n_rows: int) -> jnp.ndarray:
    """The block S[:n_rows, n_rows:] of a basis whose first functions are one basis and the
    rest another (pure; vmappable): only pairs across the two are computed, each class at
    its own primitive count, so a long contraction on one side does not pad the other.
    The two bases must not share groups (no shell of one has the exponents of the other's
    on the same atom)."""
    trace_counts["cross_overlap"] += 1
    first = [all(ao < n_rows for ao in g.aos) for g in layout.groups]
    if any(not f and any(ao < n_rows for ao in g.aos) for f, g in zip(first, layout.groups)):
        raise ValueError("a shell group spans both bases: they share exponents on one atom")
    classes: dict[tuple, list] = {}
    for a, ga in enumerate(layout.groups):
        for b, gb in enumerate(layout.groups):
            if first[a] and not first[b]:
                classes.setdefault((ga.kind, gb.kind), []).append((a, b))
    across = [PairClass(ka, kb, tuple(pairs)) for (ka, kb), pairs in classes.items()]
    return _assemble(layout, [(cls, _overlap_block(layout, cls, arrays)) for cls in across], n_rows)


def kinetic_matrix(layout: Layout, arrays: BasisArrays) -> jnp.ndarray:
    """T (nao, nao) from traced arrays (pure; vmappable)."""
    trace_counts["kinetic"] += 1
    return _assemble(layout, [(cls, kinetic_pairs(layout, cls, arrays))
                              for cls in layout.pair_classes(unique=False, pad=True)])


def nuclear_matrix(layout: Layout, arrays: BasisArrays) -> jnp.ndarray:
    """V (nao, nao), attraction to all nuclei, from traced arrays (pure; vmappable)."""
    trace_counts["nuclear"] += 1
    blocks = []
    for cls in layout.pair_classes(unique=False, pad=True):
        pd = pair_data(layout, cls, arrays)
        L = max_l(cls.kind_a) + max_l(cls.kind_b)
        r = pd.centre[:, :, None, :] - arrays.positions  # (npair, pp, natoms, 3)
        scale = (-2.0 * jnp.pi) / pd.p[..., None] * arrays.charges
        herm = coulomb_hermite(L, pd.p[..., None], r, scale).sum(axis=2)  # (npair, pp, nh)
        blocks.append((cls, jnp.einsum("xqh,xqhf->xf", herm, pd.e)))
    return _assemble(layout, blocks)


def nuclear_repulsion_energy(positions, charges) -> jnp.ndarray:
    """sum_{A<B} Z_A Z_B / |R_A - R_B| in Hartree (pure; differentiable)."""
    n = positions.shape[-2]
    diff = positions[:, None, :] - positions[None, :, :]
    off = ~np.eye(n, dtype=bool)
    r2 = jnp.where(off, jnp.sum(diff * diff, axis=-1), 1.0)  # keep sqrt's gradient finite
    pair = jnp.where(off, charges[:, None] * charges[None, :] / jnp.sqrt(r2), 0.0)
    return 0.5 * pair.sum()


def one_electron_matrices(layout: Layout, arrays: BasisArrays):
    """(S, T, V) from traced arrays in one program (pure; vmappable)."""
    return overlap_matrix(layout, arrays), kinetic_matrix(layout, arrays), nuclear_matrix(layout, arrays)


_jitted = {
    name: jax.jit(fn, static_argnums=0)
    for name, fn in [("overlap", overlap_matrix), ("kinetic", kinetic_matrix),
                     ("nuclear", nuclear_matrix), ("all", one_electron_matrices)]
}


def _public(name):
    def matrix(mol, basis, precision: str = "float64"):
        layout, arrays = layout_and_arrays(mol, basis, precision)
        return _jitted[name](layout, arrays)

    return matrix


overlap = _public("overlap")
overlap.__doc__ = """Overlap matrix S (nao, nao) of `basis` (a BasisSet or a name) on `mol`."""
kinetic = _public("kinetic")
kinetic.__doc__ = """Kinetic-energy matrix T (nao, nao), Hartree."""
nuclear = _public("nuclear")
nuclear.__doc__ = """Nuclear-attraction matrix V (nao, nao), Hartree."""
one_electron_integrals = _public("all")
one_electron_integrals.__doc__ = """(S, T, V) in one compiled program: cheaper to compile than three."""


@functools.partial(jax.jit, static_argnums=(0, 2))
def _cross_overlap(layout, arrays, n_rows):
    return cross_overlap_matrix(layout, arrays, n_rows)


def cross_overlap(mol, basis, other, precision: str = "float64") -> jnp.ndarray:
    """<basis|other> (basis.nao, other.nao): overlaps between two BasisSets on `mol`."""
    union = BasisSet(name=f"{basis.name}|{other.name}", shells=basis.shells + other.shells,
                     numbers=basis.numbers)
    layout, arrays = layout_and_arrays(mol, union, precision)
    try:
        return _cross_overlap(layout, arrays, basis.nao)
    except ValueError as err:
        raise ValueError(f"cross overlap <{basis.name}|{other.name}>: {err}") from None


def nuclear_repulsion(mol, precision: str = "float64") -> jnp.ndarray:
    """Nuclear repulsion energy of `mol` (Hartree), a scalar; differentiable in positions."""
    dt = precision_dtype(precision)
    charges = jnp.asarray(np.asarray(mol.numbers), dtype=dt)
    return nuclear_repulsion_energy(jnp.asarray(mol.positions).astype(dt), charges)
