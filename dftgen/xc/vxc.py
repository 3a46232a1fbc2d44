"""XC energy and Kohn-Sham potential matrix of a closed-shell density matrix on a grid.

With phi_i the AO values at the grid points r_p (weights w_p) and D the (nao, nao) density
matrix, rho(r) = sum_ij D_ij phi_i(r) phi_j(r) and sigma = |grad rho|^2. Then

    N    = sum_p w_p rho_p
    E_xc = sum_p w_p e(rho_p, sigma_p)
    V_ij = dE_xc/dD_ij = sum_p w_p [vrho phi_i phi_j + 2 vsigma grad rho . grad(phi_i phi_j)]

which is what PySCF's `NumInt.nr_rks` returns as (nelec, excsum, vmat). The grid is walked in
chunks of `chunk_size` points so that the working arrays stay (chunk_size, nao) however large
the grid; everything is a pure jnp function, jit-traceable and differentiable in D and ao.
Given D's factor D = L L^T (an SCF's occupied orbitals, m of them), sum_j D_ij phi_j is
L (L^T phi): 4 m nao flops a point against 2 nao^2, fewer where 2 m < nao (polarised bases).
The AO values are either given whole, or as a `dftgen.grids.AOSource` from which each chunk's
values are evaluated when it is reached (memory O(chunk_size nao) for any grid, at the cost
of evaluating them at every call), as PySCF's block loop does; screened
(`dftgen.grids.ScreenedSource`), a chunk evaluates and multiplies only the shells that are
not negligible on it, as PySCF's non0tab does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from dftgen import executables
from dftgen.grids.orbitals import AOSource
from dftgen.grids.screened import ScreenedSource
from dftgen.precision import dtype as precision_dtype
from dftgen.xc.functionals import Functional, energy_and_potential, functional

ROW_GROUP = 8  # rows of AO values summed in one fused pass (`_dot_rows`)
CHUNK_BYTES = 16 << 20  # one chunk's held AO values: in the L3 cache beside the other core's
SOURCE_CHUNK_MAX = 32768  # points per chunk of values evaluated from an AOSource, at most
SOURCE_CHUNK_BYTES = 64 << 20  # one chunk's AO values evaluated from an AOSource, float64


def _block(f: Functional, ao, weights, dm, orbitals=None):
    """(N, E_xc, V) of one block of grid points; ao is AO-major, (k, nao, n), k = 4 for GGAs;
    orbitals (nao, m) with dm = orbitals orbitals^T, or None.

    AO-major, so that every sum over orbitals runs down contiguous rows of points; each
    intermediate is materialised (`optimization_barrier`): fused, XLA:CPU re-reads the AO
    arrays once per consumer.
    """
    barrier = jax.lax.optimization_barrier
    phi = ao[0]
    # (nao, n): sum_j D_ij phi_j at each point, from the orbitals in 4 m nao flops a point
    phi_dm = barrier(dm @ phi if orbitals is None else orbitals @ barrier(orbitals.T @ phi))
    sums = _dot_rows(ao, phi_dm)  # (k, n): rho and, D symmetric, half its gradient
    rho = sums[0]
    if f.is_gga:
        grad_rho = 2.0 * sums[1:4]
        rho, grad_rho = barrier((rho, grad_rho))
        sigma = jnp.sum(grad_rho**2, axis=0)
        e, vrho, vsigma = barrier(energy_and_potential(f, rho, sigma))
        # V = H + H^T with H_ij = sum_p phi_i [w vrho/2 phi_j + 2 w vsigma grad rho . grad phi_j]
        v = (2.0 * weights * vsigma) * grad_rho
        weighted = (0.5 * weights * vrho) * phi + ao[1] * v[0] + ao[2] * v[1] + ao[3] * v[2]
    else:
        e, vrho, _ = energy_and_potential(f, rho)
        weighted = (0.5 * weights * vrho) * phi
    half = phi @ barrier(weighted).T
    return jnp.dot(weights, rho), jnp.dot(weights, e), half + half.T


def _dot_rows(a, b):
    """(k, n) sums over orbitals of a * b, a (k, nao, n), b (nao, n): sum_i a_ki b_i at
    every point (rho and its gradient from the k value rows in one pass over b).

    Written as sums of rows, which XLA:CPU fuses into one pass over the rows of a group,
    ROW_GROUP rows at most (one group of all rows is slower at large nao); faster than
    products with a row of ones.
    """
    nao = b.shape[0]
    size = -(-nao // -(-nao // ROW_GROUP))  # equal groups
    groups = [sum(a[:, i] * b[i] for i in range(start, min(start + size, nao)))
              for start in range(0, nao, size)]
    # one barrier per group: one over the list lets XLA fuse the groups back (measured slower)
    return sum(jax.lax.optimization_barrier(g) for g in groups)


def chunk_points(npts: int, per_point: int) -> int:
    """Points per chunk of held AO values, per_point bytes of them at a point: the grid cut
    into equal chunks of at most CHUNK_BYTES, rounded up to a multiple of 256 points (a
    QM1B molecule's level-0 grid in one chunk)."""
    chunks = -(-npts * per_point // CHUNK_BYTES)
    size = -(-npts // chunks)
    return min(npts, -(-size // 256) * 256)


def source_chunk(source: AOSource, nao: int) -> int:
    """Points per chunk for AO values evaluated from `source`: SOURCE_CHUNK_BYTES of them, a
    multiple of 256 points, at most SOURCE_CHUNK_MAX."""
    per_point = (1 + 3 * source.deriv) * nao * 8
    return int(min(SOURCE_CHUNK_MAX, max(256, SOURCE_CHUNK_BYTES // per_point // 256 * 256)))


@executables.jit(static_argnums=(0, 4))
def _vxc(f: Functional, ao, weights, dm, chunk_size: int, orbitals=None):
    npts = weights.shape[0]
    n_full = npts // chunk_size

    def values(start, size):
        """(k, nao, size) AO values of points start..start+size, in dm's precision."""
        if isinstance(ao, AOSource):
            return ao.block(start, size)[: 4 if f.is_gga else 1].astype(dm.dtype)
        return lax.dynamic_slice_in_dim(ao, start, size, axis=2)

    def add_chunk(total, start):
        block = (values(start, chunk_size), lax.dynamic_slice_in_dim(weights, start, chunk_size))
        return jax.tree.map(jnp.add, total, _block(f, *block, dm, orbitals)), None

    nao = dm.shape[0]
    total = (jnp.zeros((), dm.dtype), jnp.zeros((), dm.dtype), jnp.zeros((nao, nao), dm.dtype))
    total, _ = lax.scan(add_chunk, total, jnp.arange(n_full) * chunk_size)
    rest = n_full * chunk_size
    if rest < npts:  # the last, shorter chunk
        total = jax.tree.map(jnp.add, total,
                             _block(f, values(rest, npts - rest), weights[rest:], dm, orbitals))
    return total


@executables.jit(static_argnums=0)
def _vxc_screened(f: Functional, ao: ScreenedSource, weights, dm, orbitals=None):
    """`_vxc` chunk by chunk over a screen: each chunk's kept AO values, the matching
    rows and columns of dm, its potential added into those of V (a dump row and column at
    nao take the padding)."""
    nao, size = dm.shape[0], ao.chunk
    padded = jnp.pad(dm, ((0, 1), (0, 1)))
    rows = None if orbitals is None else jnp.pad(orbitals, ((0, 1), (0, 0)))
    total = (jnp.zeros((), dm.dtype), jnp.zeros((), dm.dtype), jnp.zeros((nao + 1,) * 2, dm.dtype))

    def add_chunk(total, chunk):
        start, first, shells, live, aos, values = chunk
        if values is None:  # not held: evaluated here
            values = ao.values(start, shells, live)
        values = values[: 4 if f.is_gga else 1].astype(dm.dtype)
        w = lax.dynamic_slice_in_dim(weights, start, size) * (jnp.arange(size) >= first)
        n, e, v = _block(f, values, w, padded[aos[:, None], aos[None, :]],
                         None if rows is None else rows[aos])
        return (total[0] + n, total[1] + e, total[2].at[aos[:, None], aos[None, :]].add(v)), None

    for k, group in enumerate(ao.groups):
        total, _ = lax.scan(add_chunk, total, (group.starts, group.first, group.shells,
                                               group.live, group.aos, ao.group_values(k)))
    return total[0], total[1], total[2][:nao, :nao]


def vxc(
    xc: str | Functional,
    ao,
    weights,
    dm,
    *,
    orbitals=None,
    precision="float64",
    chunk_size: int | None = None,
    ao_major: bool = False,
):
    """XC energy and potential matrix of a closed-shell density matrix, as PySCF's nr_rks.

    xc: functional name or `Functional`. ao: AO values on the grid, (npts, nao) or
    (k, npts, nao) with k >= 1: [value, d/dx, d/dy, d/dz] (k = 4) is required for GGAs;
    with ao_major=True the same arrays transposed, (nao, npts) or (k, nao, npts): the
    layout the kernel computes in, which an SCF keeps so as not to transpose every cycle;
    they are taken in chunks of `chunk_points` points unless chunk_size is given.
    Or a `dftgen.grids.AOSource` of the grid's points (deriv=1 for GGAs): the values are
    evaluated chunk by chunk (in float64, rounded to `precision`), in chunks of
    `source_chunk` points unless chunk_size is smaller; or a `ScreenedSource`
    (`dftgen.grids.screen`), whose chunks evaluate and multiply only the AOs they keep.
    weights: (npts,) quadrature weights (Bohr^3). dm: (nao, nao) symmetric density matrix
    (total, both spins). orbitals: (nao, m) with dm = orbitals orbitals^T, where known (an
    SCF's occupied orbitals times sqrt(2)); taken where 2 m < nao, as the density at the
    points then costs 4 m nao flops a point instead of 2 nao^2.
    precision: "float64", "float32" or a dtype (`dftgen.precision.dtype`).
    Returns (n_electrons, E_xc in Hartree, V_xc (nao, nao) in Hartree).
    Exact exchange (`functional(xc).hybrid`) is not included: the SCF adds it.
    """
    f = functional(xc)
    dt = precision_dtype(precision)
    weights = jnp.asarray(weights, dt)
    dm = jnp.asarray(dm, dt)
    nao, npts = dm.shape[0], weights.shape[0]
    if orbitals is not None:
        orbitals = jnp.asarray(orbitals, dt) if 2 * orbitals.shape[1] < nao else None
    if isinstance(ao, (AOSource, ScreenedSource)):
        if f.is_gga and ao.deriv < 1:
            raise ValueError(f"{f.name} is a GGA: its AOSource must have deriv=1")
        if isinstance(ao, ScreenedSource):
            return _vxc_screened(f, ao, weights, dm, orbitals)
        chunk = min(chunk_size or npts, source_chunk(ao, nao), npts)
        return _vxc(f, ao, weights, dm, chunk, orbitals)
    ao = jnp.asarray(ao, dt)
    if ao.ndim == 2:
        ao = ao[None]
    if not ao_major:
        ao = jnp.swapaxes(ao, 1, 2)
    if f.is_gga and ao.shape[0] < 4:
        layout = "(4, nao, npts)" if ao_major else "(4, npts, nao)"
        raise ValueError(f"{f.name} is a GGA: ao must hold values and gradients, {layout}")
    ao = ao[:4] if f.is_gga else ao[:1]
    chunk = chunk_size or chunk_points(npts, ao.shape[0] * nao * ao.dtype.itemsize)
    return _vxc(f, ao, weights, dm, min(chunk, npts), orbitals)
