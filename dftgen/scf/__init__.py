"""Restricted Kohn-Sham and Hartree-Fock SCF in JAX.

    setup(mol, settings) -> Setup            basis and grid, built once a molecule
    assemble(setup, settings) -> Problem     integrals, AO values, guess (SCFInputs)
    iterate(inputs, settings) -> SCFState    the compiled iterations
    run_batch(mols, settings) -> [DFTResult] all of it, bucketed by shape
    grid_points(numbers, settings) -> int    a molecule's grid size, from its elements

Modules: problem (setup, assemble), iterations (the pure JAX SCF), driver (buckets and
batching), result (DFTResult), forces (autodiff nuclear gradients). `dftgen.run_dft` is the
user's entry point, on any device.
"""

from dftgen.scf.driver import grid_points, run_batch, run_setups
from dftgen.scf.iterations import SCFInputs, SCFState, iterate
from dftgen.scf.problem import Problem, Setup, assemble, setup
from dftgen.scf.result import DFTResult, SCFNotConvergedWarning

__all__ = ["grid_points", "run_batch", "run_setups", "SCFInputs", "SCFState", "iterate", "Problem", "Setup",
           "assemble", "setup", "DFTResult", "SCFNotConvergedWarning"]
