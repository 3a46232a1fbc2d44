"""The static structure of an integral computation, apart from its traced numbers.

Integral kernels are compiled once per *layout*: which shells sit on which atom, their
angular momenta, primitive counts and whether they are Cartesian. Exponents, contraction
coefficients, positions and nuclear charges are traced inputs (`BasisArrays`), so every
molecule of one shape bucket (equal `BasisSet.shape_key`: in STO-3G, C, N, O and F alike)
reuses one compiled program, and a stack of them can be `jax.vmap`-ed.

Shells on one atom with identical exponents (STO-3G's 2s and 2p, 6-31G's sp shells) are
merged into one *group* whose primitive-pair data are computed once for all its functions:
for STO-3G this cuts the primitive quartets of the ERI by about 3x.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import block_diag

from dftgen.basis import BasisSet, Shell, build, cart2ao, cart_powers
from dftgen.precision import on_device


class Kind(NamedTuple):
    """What the groups of one side of a pair class share: their shells' angular momenta and
    whether each is Cartesian, and their number of primitives."""

    ls: tuple[int, ...]
    nprim: int
    cartesian: tuple[bool, ...]

    @property
    def nfunc(self) -> int:
        """Functions of a group of this kind."""
        return angular(self.ls, self.cartesian)[2].shape[1]


@dataclasses.dataclass(frozen=True)
class ShellGroup:
    """Shells of one atom that share their exponents.

    Attributes:
        atom: atom index.
        nprim: number of primitives.
        shells: indices of the shells (into BasisSet.shells / its arrays).
        ls: angular momentum of each shell.
        cartesian: whether each shell is Cartesian.
        aos: AO index of each function, shells in order, functions within a shell in order.
    """

    atom: int
    nprim: int
    shells: tuple[int, ...]
    ls: tuple[int, ...]
    cartesian: tuple[bool, ...]
    aos: tuple[int, ...]

    @property
    def kind(self) -> Kind:
        return Kind(self.ls, self.nprim, self.cartesian)


@dataclasses.dataclass(frozen=True)
class PairClass:
    """Pairs of groups (a, b) whose two sides have one kind each: the unit of vectorisation.

    A side whose groups have fewer primitives than its kind's `nprim` is padded with zero
    coefficients (BasisSet's arrays are padded that way already).
    """

    kind_a: Kind
    kind_b: Kind
    pairs: tuple[tuple[int, int], ...]


@dataclasses.dataclass(frozen=True)
class Layout:
    """Static structure of a basis on a molecule (hashable: a jit static argument)."""

    natoms: int
    nao: int
    groups: tuple[ShellGroup, ...]

    def kinds(self, pad: bool) -> tuple:
        """The kind of each group, or with pad=True its nprim replaced by the largest of groups
        with its ls and cartesian: fewer classes, so less to compile, for some padded work."""
        if not pad:
            return tuple(g.kind for g in self.groups)
        most: dict[tuple, int] = {}
        for g in self.groups:
            most[g.ls, g.cartesian] = max(most.get((g.ls, g.cartesian), 0), g.nprim)
        return tuple(Kind(g.ls, most[g.ls, g.cartesian], g.cartesian) for g in self.groups)

    @functools.lru_cache(maxsize=None)
    def pair_classes(self, unique: bool, pad: bool = False) -> tuple[PairClass, ...]:
        """Group pairs by kind. unique=False: every ordered pair (a, b); unique=True: each
        unordered pair once, oriented so that kind_a comes first in order of appearance
        (same kind: a >= b)."""
        kinds = self.kinds(pad)
        order = {k: i for i, k in enumerate(dict.fromkeys(kinds))}
        classes: dict[tuple, list] = {}
        for a, ka in enumerate(kinds):
            for b, kb in enumerate(kinds):
                if unique and (order[ka] > order[kb] or (ka == kb and a < b)):
                    continue
                classes.setdefault((ka, kb), []).append((a, b))
        return tuple(PairClass(ka, kb, tuple(p)) for (ka, kb), p in classes.items())


#: how many times each kernel ("overlap", "eri", ...) was traced: a compile-cache check
trace_counts: collections.Counter = collections.Counter()


class BasisArrays(NamedTuple):
    """Traced inputs of the integral kernels (a pytree; stackable along a leading axis).

    positions: (natoms, 3) Bohr; charges: (natoms,) nuclear charges;
    exponents, coefficients: (nshell, max_nprim), as BasisSet's padded arrays.
    """

    positions: jnp.ndarray
    charges: jnp.ndarray
    exponents: jnp.ndarray
    coefficients: jnp.ndarray


@functools.lru_cache(maxsize=None)
def angular(ls: tuple[int, ...], cartesian: tuple[bool, ...]):
    """Cartesian components of a group and their map to its functions.

    Returns:
        powers: (ncart, 3) int, (a, b, c) of x^a y^b z^c, shells in order, PySCF's order.
        shell: (ncart,) int, which shell of the group each component belongs to.
        to_ao: (ncart, nfunc) block-diagonal cart2ao of the shells.
    """
    powers = np.array([p for l in ls for p in cart_powers(l)], dtype=np.int64)
    shell = np.array([i for i, l in enumerate(ls) for _ in cart_powers(l)], dtype=np.int64)
    return powers, shell, block_diag(*(cart2ao(l, cart) for l, cart in zip(ls, cartesian)))


@functools.lru_cache(maxsize=256)
def layout_of(shells: tuple[Shell, ...], natoms: int) -> Layout:
    """Group shells (a BasisSet's `shells`): shells of one atom with equal exponents merge.

    Cached by the shells themselves, exponents included: whether shells merge depends on them.
    """
    ao_loc = np.concatenate([[0], np.cumsum([s.nfunc for s in shells])])
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(shells):
        groups.setdefault((s.atom, s.exponents), []).append(i)
    out = []
    for members in groups.values():
        first = shells[members[0]]
        aos = tuple(a for i in members for a in range(ao_loc[i], ao_loc[i + 1]))
        out.append(ShellGroup(first.atom, first.nprim, tuple(members),
                              tuple(shells[i].l for i in members),
                              tuple(shells[i].cartesian for i in members), aos))
    return Layout(natoms=natoms, nao=int(ao_loc[-1]), groups=tuple(out))


def basis_arrays(mol, basis: BasisSet, precision: str = "float64") -> BasisArrays:
    """The traced inputs for `mol` in `basis`; positions stay a tracer if they are one."""
    return BasisArrays(
        positions=on_device(mol.positions, precision),
        charges=on_device(mol.numbers, precision),
        exponents=on_device(basis.exponents, precision),
        coefficients=on_device(basis.coefficients, precision),
    )


def is_traced(*arrays: BasisArrays) -> bool:
    """Whether any of the arrays is a JAX tracer (forces, vmap): such inputs take the
    one-program kernels, concrete ones the programs shared by every molecule size."""
    return any(isinstance(a, jax.core.Tracer) for arr in arrays for a in arr)


def layout_and_arrays(mol, basis, precision: str = "float64") -> tuple[Layout, BasisArrays]:
    """(layout, arrays) for a molecule and a BasisSet or basis name."""
    if isinstance(basis, str):
        basis = build(mol, basis)
    return layout_of(basis.shells, len(basis.numbers)), basis_arrays(mol, basis, precision)


def stack(mols, basis: str, precision: str = "float64") -> tuple[Layout, BasisArrays]:
    """One layout and arrays stacked along a leading axis, for `jax.vmap` over molecules of
    one shape bucket.

    Raises:
        ValueError: the molecules do not share one layout (different shape keys, or shells
            that share exponents in one molecule but not in another).
    """
    bases = [build(m, basis) for m in mols]
    layouts = [layout_of(b.shells, len(b.numbers)) for b in bases]
    if any(lay != layouts[0] for lay in layouts[1:]):
        raise ValueError("molecules of different shape buckets cannot be stacked: "
                         + ", ".join(sorted({m.name or str(m.numbers) for m in mols})))
    arrays = [basis_arrays(m, b, precision) for m, b in zip(mols, bases)]
    return layouts[0], BasisArrays(*(jnp.stack(x) for x in zip(*arrays)))
