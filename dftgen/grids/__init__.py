"""Molecular integration grids and atomic orbitals on them.

    grid = dftgen.grids.build(mol, level=3)        # PySCF's default grid: points, weights
    ao = dftgen.grids.ao_values(mol, basis, grid.points, deriv=1)   # (4, npts, nao), JAX
    padded = dftgen.grids.pad(grid, 40_000)          # zero-weight points for batching
    npts = dftgen.grids.size(mol.numbers, level=3)  # grid.size, from the elements alone

`ao_values_arrays` is `ao_values` on plain arrays (shape key, positions, exponents,
coefficients, points), for jax.vmap over molecules of one shape bucket. `AOSource` holds what
the values are made from, for a kernel that evaluates them block by block (large molecules);
`screen(source)` adds which shells matter on which chunk of points (`ScreenedSource`), and
`hold(screened, bytes)` evaluates the kept values of as many chunk groups as fit, once.
"""

from dftgen.grids.molecular import Grid, build, pad, size
from dftgen.grids.orbitals import AOSource, ao_values, ao_values_arrays
from dftgen.grids.screened import ScreenedSource, hold, screen

__all__ = ["AOSource", "Grid", "ScreenedSource", "build", "hold", "pad", "screen", "size", "ao_values",
           "ao_values_arrays"]
