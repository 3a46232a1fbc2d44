"""Molecular integration grids and atomic orbitals on them.

    grid = dftgen.grids.build(mol, level=3)        # PySCF's default grid: points, weights
    ao = dftgen.grids.ao_values(mol, basis, grid.points, deriv=1)   # (4, npts, nao), JAX
    padded = dftgen.grids.pad(grid, 40_000)          # zero-weight points for batching

`ao_values_arrays` is `ao_values` on plain arrays (shape key, positions, exponents,
coefficients, points), for jax.vmap over molecules of one shape bucket.
"""

from dftgen.grids.molecular import Grid, build, pad
from dftgen.grids.orbitals import ao_values, ao_values_arrays

__all__ = ["Grid", "build", "pad", "ao_values", "ao_values_arrays"]
