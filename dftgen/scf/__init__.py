"""Restricted Kohn-Sham and Hartree-Fock SCF in JAX: iterations, driver, results."""

from dftgen.scf.driver import DFTResult, SCFNotConvergedWarning, run_dft, run_dft_batch
from dftgen.scf.iterations import SCFInputs, SCFState, iterate

__all__ = ["DFTResult", "SCFNotConvergedWarning", "run_dft", "run_dft_batch", "SCFInputs",
           "SCFState", "iterate"]
