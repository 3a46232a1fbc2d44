"""Gaussian integrals in JAX: overlap, kinetic, nuclear attraction, electron repulsion.

Every public function takes a `Molecule`, a basis (a `BasisSet` or a name) and
`precision="float64"|"float32"`, and is differentiable with respect to the positions.
For batches of molecules of one shape bucket, `layout.stack` gives traced arrays to
`jax.vmap` the `*_matrix` kernels over.
"""

from dftgen.integrals.eri import eri_packed, n_packed, unpack
from dftgen.integrals.eri_stepwise import eri
from dftgen.integrals.jk import fock_supermatrix, jk, pair_matrices, two_electron
from dftgen.integrals.layout import BasisArrays, Layout, layout_and_arrays, stack, trace_counts
from dftgen.integrals.one_electron import (
    cross_overlap,
    kinetic,
    nuclear,
    nuclear_repulsion,
    one_electron_integrals,
    overlap,
)

__all__ = ["eri", "eri_packed", "n_packed", "jk", "fock_supermatrix", "pair_matrices", "two_electron", "unpack", "trace_counts", "overlap", "cross_overlap", "kinetic", "nuclear", "one_electron_integrals", "nuclear_repulsion",
           "layout_and_arrays", "stack", "Layout", "BasisArrays"]
