"""One-electron integrals by McMurchie-Davidson: overlap S, kinetic energy T, nuclear
attraction V, position integrals <m|r|n> (`matrices`, with S, T and V in the same programs;
`dftgen.integrals.multipole`), and the nuclear repulsion energy.

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

import jax.numpy as jnp
import numpy as np

from dftgen import executables, threads
from dftgen.basis import BasisSet
from dftgen.integrals.hermite import coulomb_hermite
from dftgen.integrals.layout import (BasisArrays, Layout, PairClass, is_traced,
                                     layout_and_arrays, trace_counts)
from dftgen.integrals.pairs import (PairData, by_chunks, kinetic_pairs, kinetic_pairs_of_sides,
                                    max_l, pair_data, pair_data_of_sides)
from dftgen.precision import on_device


def _assemble(layout: Layout, blocks, n_rows: int | None = None, mirror: bool = False) -> jnp.ndarray:
    """Scatter per-class blocks (npair, nfunc_a * nfunc_b) into a (nao, nao) matrix, or with
    n_rows its block [:n_rows, n_rows:] (which the pairs must fill). mirror: the classes are
    `unique` ones of a symmetric matrix, the block of each pair of two groups also written
    transposed at (b, a)."""
    rows, cols, values = [], [], []
    for cls, block in blocks:
        aos_a = np.array([layout.groups[a].aos for a, _ in cls.pairs])
        aos_b = np.array([layout.groups[b].aos for _, b in cls.pairs]) - (n_rows or 0)
        shape = (len(aos_a), aos_a.shape[1], aos_b.shape[1])
        r, c = (np.broadcast_to(a, shape).ravel() for a in (aos_a[:, :, None], aos_b[:, None, :]))
        v = block.reshape(-1)
        if mirror:  # a group with itself holds its whole block already
            across = np.repeat(np.array([a != b for a, b in cls.pairs]), shape[1] * shape[2])
            r, c, v = (np.concatenate([r, c[across]]), np.concatenate([c, r[across]]),
                       np.concatenate([v, v[across]]))
        rows.append(r)
        cols.append(c)
        values.append(v)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    shape = (layout.nao, layout.nao) if n_rows is None else (n_rows, layout.nao - n_rows)
    if isinstance(values[0], np.ndarray):  # blocks computed by `_by_chunks` on the host
        out = np.zeros(shape, dtype=values[0].dtype)
        out[rows, cols] = np.concatenate(values)
        return on_device(out)
    out = jnp.zeros(shape, dtype=values[0].dtype)
    return out.at[rows, cols].set(jnp.concatenate(values), unique_indices=True)


def _overlap_block(layout: Layout, cls: PairClass, arrays: BasisArrays) -> jnp.ndarray:
    """Overlaps (npair, nfunc_a * nfunc_b) of a pair class."""
    return _overlap_of(pair_data(layout, cls, arrays))


def _overlap_of(pd: PairData) -> jnp.ndarray:
    return jnp.einsum("xq,xqf->xf", (jnp.pi / pd.p) ** 1.5, pd.e[:, :, 0])


def _nuclear_of(pd: PairData, positions, charges, l: int) -> jnp.ndarray:
    """Attraction (npair, nfunc_a * nfunc_b) to the nuclei at positions (natoms, 3) of
    charges (natoms,), of a pair class of la + lb = l."""
    r = pd.centre[:, :, None, :] - positions  # (npair, pp, natoms, 3)
    scale = (-2.0 * jnp.pi) / pd.p[..., None] * charges
    herm = coulomb_hermite(l, pd.p[..., None], r, scale).sum(axis=2)  # (npair, pp, nh)
    return jnp.einsum("xqh,xqhf->xf", herm, pd.e)


def _dipole_of(pd: PairData, origin) -> jnp.ndarray:
    """(npair, 3, nfunc_a * nfunc_b): a pair class's x, y, z integrals about origin (3,):
    <m| x - O_x |n> = (pi/p)^(3/2) (E_100 + (P_x - O_x) E_000), as `dftgen.integrals.multipole`
    derives; an s-s pair has no E_100 term."""
    norm = ((jnp.pi / pd.p) ** 1.5)[..., None]
    e000 = pd.e[:, :, 0]
    out = []
    for k in range(3):
        # hermite_tuples orders (1,0,0), (0,1,0), (0,0,1) right after (0,0,0)
        first = pd.e[:, :, 1 + k] if pd.e.shape[2] > 1 else 0.0
        shifted = first + (pd.centre[:, :, k] - origin[k])[..., None] * e000
        out.append((norm * shifted).sum(axis=1))
    return jnp.stack(out, axis=1)


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
    return _assemble(layout, [(cls, _overlap_block(layout, cls, arrays))
                              for cls in _across(layout, n_rows)], n_rows)


def _across(layout: Layout, n_rows: int) -> list[PairClass]:
    """The pair classes from the first n_rows functions' groups to the others'."""
    first = [all(ao < n_rows for ao in g.aos) for g in layout.groups]
    if any(not f and any(ao < n_rows for ao in g.aos) for f, g in zip(first, layout.groups)):
        raise ValueError("a shell group spans both bases: they share exponents on one atom")
    classes: dict[tuple, list] = {}
    for a, ga in enumerate(layout.groups):
        for b, gb in enumerate(layout.groups):
            if first[a] and not first[b]:
                classes.setdefault((ga.kind, gb.kind), []).append((a, b))
    return [PairClass(ka, kb, tuple(pairs)) for (ka, kb), pairs in classes.items()]


def kinetic_matrix(layout: Layout, arrays: BasisArrays) -> jnp.ndarray:
    """T (nao, nao) from traced arrays (pure; vmappable)."""
    trace_counts["kinetic"] += 1
    return _assemble(layout, [(cls, kinetic_pairs(layout, cls, arrays))
                              for cls in layout.pair_classes(unique=False, pad=True)])


def nuclear_matrix(layout: Layout, arrays: BasisArrays) -> jnp.ndarray:
    """V (nao, nao), attraction to all nuclei, from traced arrays (pure; vmappable)."""
    trace_counts["nuclear"] += 1
    return _assemble(layout, [(cls, _nuclear_of(pair_data(layout, cls, arrays), arrays.positions,
                                                 arrays.charges,
                                                 max_l(cls.kind_a) + max_l(cls.kind_b)))
                              for cls in layout.pair_classes(unique=False, pad=True)])


@executables.jit
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
    name: executables.jit(fn, static_argnums=0)
    for name, fn in [("overlap", overlap_matrix), ("kinetic", kinetic_matrix),
                     ("nuclear", nuclear_matrix), ("all", one_electron_matrices)]
}

#: nuclei per call of the one-electron programs (`matrices`), padded with nuclei of charge 0:
#: one program serves every molecule size, and a QM1B molecule's nuclei take one call
ATOM_CHUNK = 32
PARTS = ("overlap", "kinetic", "nuclear", "dipole")


@executables.jit(static_argnums=(2, 3))
def _overlap_chunk(side_a, side_b, kind_a, kind_b):
    return _overlap_of(pair_data_of_sides(side_a, side_b, kind_a, kind_b))


@executables.jit(static_argnums=(4, 5, 6))
def _one_electron_chunk(side_a, side_b, positions, charges, parts, kind_a, kind_b):
    """The `parts` (of PARTS) of pairs' blocks; nuclear: the attraction to the nuclei at
    positions (ATOM_CHUNK, 3) of charges (ATOM_CHUNK,); dipole: (npair, 3, nfunc_a * nfunc_b)
    about the origin of coordinates."""
    pd = pair_data_of_sides(side_a, side_b, kind_a, kind_b)
    make = {"overlap": lambda: _overlap_of(pd),
            "kinetic": lambda: kinetic_pairs_of_sides(side_a, side_b, kind_a, kind_b),
            "nuclear": lambda: _nuclear_of(pd, positions, charges, max_l(kind_a) + max_l(kind_b)),
            "dipole": lambda: _dipole_of(pd, jnp.zeros(3, pd.p.dtype))}
    return {part: make[part]() for part in parts}


def matrices(mol, basis, parts=PARTS, precision: str = "float64") -> dict:
    """The one-electron matrices named in `parts` (of PARTS) of `basis` (a BasisSet or a
    name) on concrete positions, in one pass over the pair classes: "overlap", "kinetic",
    "nuclear" (nao, nao), Hartree, and "dipole" <m| r |n> (3, nao, nao), Bohr, about the
    origin of coordinates (PySCF's int1e_r order).

    Each class's pairs go through programs that every molecule size shares, `pairs.PAIR_CHUNK`
    pairs a call (`by_chunks`; each unordered pair once, its transpose mirrored) and ATOM_CHUNK
    nuclei (the nuclei beyond the first chunk in further calls, V only), the classes side by
    side on the process's cores (`dftgen.threads`); assembled on the host."""
    return _matrices(*layout_and_arrays(mol, basis, precision), parts)


def _matrices(layout: Layout, arrays: BasisArrays, parts) -> dict:
    """`matrices` of concrete arrays."""
    arrays = BasisArrays(*(np.asarray(a) for a in arrays))
    natoms = len(arrays.charges)
    rows = np.minimum(np.arange(-(-natoms // ATOM_CHUNK) * ATOM_CHUNK), natoms - 1)
    charges = np.where(np.arange(len(rows)) < natoms, arrays.charges[rows], 0)

    def class_blocks(cls) -> dict:
        """A class's blocks of each part (classes run side by side: `threads`)."""
        got = {}
        for k in range(0, len(rows), ATOM_CHUNK):
            wanted = parts if k == 0 else tuple(p for p in parts if p == "nuclear")
            if not wanted:
                break
            for part, block in by_chunks(_one_electron_chunk, layout, cls, arrays,
                                         arrays.positions[rows[k:k + ATOM_CHUNK]],
                                         charges[k:k + ATOM_CHUNK], wanted).items():
                got[part] = block if k == 0 else got[part] + block
        return got

    classes = layout.pair_classes(unique=True, pad=True)
    got = threads.map_list(class_blocks, classes)
    blocks = {part: [(cls, g[part]) for cls, g in zip(classes, got)] for part in parts}
    out = {part: _assemble(layout, blocks[part], mirror=True) for part in parts if part != "dipole"}
    if "dipole" in parts:
        out["dipole"] = on_device(np.stack([
            _assemble(layout, [(cls, b[:, k]) for cls, b in blocks["dipole"]], mirror=True)
            for k in range(3)]))
    return out


def _public(name):
    parts = ("overlap", "kinetic", "nuclear") if name == "all" else (name,)

    def matrix(mol, basis, precision: str = "float64"):
        layout, arrays = layout_and_arrays(mol, basis, precision)
        if is_traced(arrays):
            return _jitted[name](layout, arrays)
        got = _matrices(layout, arrays, parts)
        return tuple(got[part] for part in parts) if name == "all" else got[name]

    return matrix


overlap = _public("overlap")
overlap.__doc__ = """Overlap matrix S (nao, nao) of `basis` (a BasisSet or a name) on `mol`."""
kinetic = _public("kinetic")
kinetic.__doc__ = """Kinetic-energy matrix T (nao, nao), Hartree."""
nuclear = _public("nuclear")
nuclear.__doc__ = """Nuclear-attraction matrix V (nao, nao), Hartree."""
one_electron_integrals = _public("all")
one_electron_integrals.__doc__ = """(S, T, V) in one compiled program: cheaper to compile than three."""


@executables.jit(static_argnums=(0, 2))
def _cross_overlap(layout, arrays, n_rows):
    return cross_overlap_matrix(layout, arrays, n_rows)


def cross_overlap(mol, basis, other, precision: str = "float64") -> jnp.ndarray:
    """<basis|other> (basis.nao, other.nao): overlaps between two BasisSets on `mol`."""
    union = BasisSet(name=f"{basis.name}|{other.name}", shells=basis.shells + other.shells,
                     numbers=basis.numbers)
    layout, arrays = layout_and_arrays(mol, union, precision)
    try:
        if not is_traced(arrays):
            concrete = BasisArrays(*(np.asarray(a) for a in arrays))
            classes = _across(layout, basis.nao)
            blocks = threads.map_list(lambda cls: by_chunks(_overlap_chunk, layout, cls, concrete),
                                      classes)
            return _assemble(layout, list(zip(classes, blocks)), basis.nao)
        return _cross_overlap(layout, arrays, basis.nao)
    except ValueError as err:
        raise ValueError(f"cross overlap <{basis.name}|{other.name}>: {err}") from None


def nuclear_repulsion(mol, precision: str = "float64") -> jnp.ndarray:
    """Nuclear repulsion energy of `mol` (Hartree), a scalar; differentiable in positions."""
    return nuclear_repulsion_energy(on_device(mol.positions, precision),
                                    on_device(mol.numbers, precision))
