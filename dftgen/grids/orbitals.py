"""Atomic orbitals and their gradients on grid points, in JAX.

An AO of a shell with angular momentum l centred on A is

    phi_m(r) = R(|r - A|^2) * S_m(r - A),   R(s) = sum_p c_p exp(-alpha_p s),
    S_m(d) = sum_k C[k, m] d_x^a_k d_y^b_k d_z^c_k                (dftgen.basis.cart2ao)

with C the Cartesian-to-spherical map of a spherical shell and a diagonal for a Cartesian one,
and its gradient is  grad phi_m = 2 d R'(s) S_m(d) + R(s) grad S_m(d), with
R'(s) = -sum_p alpha_p c_p exp(-alpha_p s). Nothing takes a square root of a distance, so
values and derivatives (also with respect to the centres, by autodiff) stay finite at the
nuclei.

Shells are evaluated in groups of equal (l, nprim, cartesian), so no padded primitive costs
work, and the rows are permuted once into PySCF's AO order. Points go through in blocks of
fixed size (a loop), which bounds the intermediates for any grid. The basis layout
(`BasisSet.shape_key`) is static: molecules of one shape bucket share one compiled program,
while positions, exponents, coefficients and points are traced (differentiable, vmappable).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables, precision as _precision
from dftgen.basis import cart2ao, cart_powers

BLOCK_SIZE = 256  # points per block: intermediates stay O(BLOCK_SIZE * nao), in the caches


def ao_values(mol, basis, points, deriv: int = 0, precision: str = "float64",
              block_size: int = BLOCK_SIZE, ao_major: bool = False):
    """AOs of `basis` on `mol` at points, as PySCF's `mol.eval_gto`.

    Args:
        mol: a `dftgen.Molecule`; positions (Bohr) may be traced (jax.grad, jax.vmap).
        basis: the `dftgen.basis.BasisSet` of `mol`.
        points: (npts, 3) in Bohr.
        deriv: 0 for values, 1 for values and gradients.
        precision: "float64" or "float32".
        block_size: points per block of the chunked evaluation.
        ao_major: return the AO-major layout the values are computed in (what the XC
            kernel takes) instead of PySCF's.

    Returns:
        (npts, nao) for deriv=0, like "GTOval_sph" ("GTOval_cart" for Cartesian shells);
        (4, npts, nao) for deriv=1 (value, d/dx, d/dy, d/dz), like "GTOval_sph_deriv1".
        AO order is PySCF's. With ao_major:
        (nao, npts) and (4, nao, npts).
    """
    return ao_values_arrays(basis.shape_key, mol.positions, basis.exponents, basis.coefficients,
                            points, deriv=deriv, precision=precision, block_size=block_size,
                            ao_major=ao_major)


def ao_values_arrays(shape_key, positions, exponents, coefficients, points, deriv: int = 0,
                     precision: str = "float64", block_size: int = BLOCK_SIZE,
                     ao_major: bool = False):
    """`ao_values` on plain arrays, for batching molecules of one shape bucket with jax.vmap.

    Args:
        shape_key: `BasisSet.shape_key` (static).
        positions: (natm, 3) nuclear positions in Bohr.
        exponents, coefficients: (nshell, max_nprim), as `BasisSet.exponents/coefficients`.
        points: (npts, 3) in Bohr.

    Returns:
        as `ao_values`.
    """
    if deriv not in (0, 1):
        raise ValueError(f"deriv must be 0 or 1, got {deriv}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive number of points, got {block_size}")
    dtype = _precision.dtype(precision)
    out = _evaluate(_Layout.of(shape_key), jnp.asarray(positions, dtype),
                    jnp.asarray(exponents, dtype), jnp.asarray(coefficients, dtype),
                    jnp.asarray(points, dtype), deriv, block_size)
    if deriv == 0:
        out = out[0]
    return out if ao_major else jnp.swapaxes(out, -1, -2)


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class AOSource:
    """What the AO values of a molecule on a grid are made from, for a kernel that evaluates
    them block by block instead of holding all of them (k nao npts values: tens of GB for a
    40-heavy-atom molecule in a polarised basis).

    A pytree: positions (natm, 3), exponents and coefficients (nshell, max_nprim) and
    points (npts, 3), Bohr, are its leaves (traced, vmappable); the basis layout
    (`BasisSet.shape_key`) and deriv are static.
    """

    positions: jax.Array
    exponents: jax.Array
    coefficients: jax.Array
    points: jax.Array
    shape_key: tuple
    deriv: int

    @classmethod
    def of(cls, mol, basis, points, deriv: int) -> AOSource:
        """The source of `ao_values(mol, basis, points, deriv)`, in float64."""
        f64 = functools.partial(jnp.asarray, dtype=_precision.dtype("float64"))  # x64 on
        return cls(f64(mol.positions), f64(basis.exponents), f64(basis.coefficients),
                   f64(points), basis.shape_key, deriv)

    @property
    def npts(self) -> int:
        return self.points.shape[0]

    def block(self, start, size: int):
        """AO-major values of points start..start+size, (1 + 3 deriv, nao, size); start may
        be traced, size is static."""
        points = jax.lax.dynamic_slice_in_dim(self.points, start, size)
        return _evaluate(_Layout.of(self.shape_key), self.positions, self.exponents,
                         self.coefficients, points, self.deriv, min(BLOCK_SIZE, size))

    def padded(self, npts: int) -> AOSource:
        """The source with its last point repeated up to npts points (for zero weights)."""
        extra = npts - self.npts
        return dataclasses.replace(self, points=jnp.pad(self.points, [(0, extra), (0, 0)],
                                                        mode="edge"))

    def tree_flatten(self):
        return ((self.positions, self.exponents, self.coefficients, self.points),
                (self.shape_key, self.deriv))

    @classmethod
    def tree_unflatten(cls, static, leaves):
        return cls(*leaves, *static)


class _Layout:
    """Static index arrays of a basis layout: shell groups of equal (l, nprim, cartesian) and
    the row permutation into PySCF's AO order. Hashable by the shape key, for jit."""

    def __init__(self, shape_key):
        self.key = shape_key
        shells = shape_key[1]
        groups = {}
        for index, (_, l, nprim, cartesian) in enumerate(shells):
            groups.setdefault((l, nprim, cartesian), []).append(index)
        self.groups = tuple((*kind, np.array(idx)) for kind, idx in sorted(groups.items()))
        self.shell_atom = np.array([atom for atom, *_ in shells])
        # AOs per shell and each shell's first AO (PySCF order; ao_loc[-1] = nao)
        self.nfunc = np.array([cart2ao(l, cartesian).shape[1] for _, l, _, cartesian in shells])
        self.ao_loc = np.concatenate([[0], np.cumsum(self.nfunc)])
        # rows of the group-ordered AO block -> PySCF order
        grouped = [self.ao_loc[s] + m for *_, idx in self.groups for s in idx
                   for m in range(self.nfunc[s])]
        self.to_pyscf = np.argsort(np.array(grouped))

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def of(shape_key) -> _Layout:
        return _Layout(shape_key)

    @property
    def static_key(self):
        return self.key  # everything above is made from it (`executables.static_text`)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Layout) and other.key == self.key


@executables.jit(static_argnums=(0, 5, 6))
def _evaluate(layout, positions, exponents, coefficients, points, deriv, block_size):
    """(1 + 3 deriv, nao, npts): AO-major, points along the fast axis, so that every step
    vectorises over points (faster than points-major plus the transposition into this
    layout).

    Blocks of points go through a loop, each written into its columns of the result; the
    last block ends at the last point (overlapping the one before), so no padding is cut off.
    """
    npts = points.shape[0]
    nao = len(layout.to_pyscf)
    out = jnp.zeros((1 + 3 * deriv, nao, npts), points.dtype)
    if npts == 0:
        return out
    size = min(block_size, npts)
    nblocks = -(-npts // size)
    centres = positions[layout.shell_atom]

    def block(start, out):
        start = jnp.minimum(start * size, npts - size)
        p = jax.lax.dynamic_slice_in_dim(points, start, size).T  # (3, B)
        parts = [_shell_group(p, centres[idx], exponents[idx, :nprim], coefficients[idx, :nprim],
                              l, cartesian, deriv) for l, nprim, cartesian, idx in layout.groups]
        values = jnp.concatenate(parts, axis=1)[:, layout.to_pyscf]
        return jax.lax.dynamic_update_slice_in_dim(out, values, start, axis=2)

    return jax.lax.fori_loop(0, nblocks, block, out)


def _shell_group(points, centres, exponents, coefficients, l, cartesian, deriv):
    """AOs of shells with one angular momentum l, one number of primitives, all Cartesian or
    all spherical.

    Args:
        points: (3, B); centres: (nsh, 3); exponents, coefficients: (nsh, nprim).

    Returns:
        (1 + 3 deriv, nsh * nfunc, B), shell-major rows.
    """
    d = points[None, :, :] - centres[:, :, None]  # (nsh, 3, B)
    s = jnp.sum(d * d, axis=1)
    gauss = coefficients[:, :, None] * jnp.exp(-exponents[:, :, None] * s[:, None, :])  # (nsh, nprim, B)
    radial = gauss.sum(1)[:, None]
    angular = _combine(_monomials(d, l), cart2ao(l, cartesian))  # (nsh, nfunc, B)
    rows = (1 + 3 * deriv, -1, points.shape[1])
    if deriv == 0:
        return (radial * angular).reshape(rows)
    dradial = -2.0 * (exponents[:, :, None] * gauss).sum(1)[:, None]  # grad R = d * dradial
    grads = [d[:, axis, None] * dradial * angular for axis in range(3)]
    if l > 0:
        lower = _monomials(d, l - 1)
        grads = [g + radial * _combine(lower, _cart2ao_derivative(l, cartesian, axis))
                 for axis, g in enumerate(grads)]
    return jnp.stack([radial * angular, *grads]).reshape(rows)


def _monomials(d, l):
    """(nsh, ncart, B) Cartesian monomials d_x^a d_y^b d_z^c of degree l, PySCF's order."""
    powers = [[jnp.ones_like(d[:, axis])] for axis in range(3)]
    for axis in range(3):
        for _ in range(l):
            powers[axis].append(powers[axis][-1] * d[:, axis])
    return jnp.stack([powers[0][a] * powers[1][b] * powers[2][c] for a, b, c in cart_powers(l)], 1)


def _combine(monomials, matrix: np.ndarray):
    """(nsh, m, B): sum_k matrix[k, m] monomials[:, k], over the nonzero entries only (a
    static linear map: elementwise, where a contraction over k would be a thin product)."""
    zero = jnp.zeros_like(monomials[:, 0])
    return jnp.stack([sum((float(c) * monomials[:, k] for k, c in enumerate(matrix[:, m]) if c),
                          start=zero) for m in range(matrix.shape[1])], 1)


@functools.lru_cache(maxsize=None)
def _cart2ao_derivative(l: int, cartesian: bool, axis: int) -> np.ndarray:
    """(ncart(l-1), nfunc) matrix D with d/d(axis) S_m = sum_k D[k, m] (monomial k of degree
    l-1)."""
    lower = {p: k for k, p in enumerate(cart_powers(l - 1))}
    derivative = np.zeros((len(lower), len(cart_powers(l))))
    for k, p in enumerate(cart_powers(l)):
        if p[axis]:
            q = list(p)
            q[axis] -= 1
            derivative[lower[tuple(q)], k] = p[axis]
    return derivative @ cart2ao(l, cartesian)
