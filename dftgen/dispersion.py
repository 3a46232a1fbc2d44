"""Grimme's D3 dispersion correction with Becke-Johnson damping, D3(BJ), from its reference
implementation (simple-dftd3's Python API, the `dftd3` package).

The correction depends on the nuclei only, so it is added to the converged SCF energy and
its gradient to the forces; it never touches the density. Two-body terms only (no
Axilrod-Teller-Muto three-body term), as PySCF's "-d3bj" functionals do.

Energies in Hartree, positions in Bohr, gradients in Hartree/Bohr.
"""

from __future__ import annotations

import numpy as np
from dftd3.interface import DispersionModel, RationalDampingParam

# the damping parameters are fitted per functional; B3LYP's VWN5 variant takes B3LYP's
PARAMETERS = {"b3lyp": "b3lyp", "b3lyp5": "b3lyp", "pbe": "pbe", "pbe0": "pbe0", "hf": "hf",
              "wb97x": "wb97x"}


def d3bj(numbers: np.ndarray, positions: np.ndarray, functional: str) -> tuple[float, np.ndarray]:
    """(energy, gradient (natoms, 3)) of D3(BJ) for atoms `numbers` (natoms,) at `positions`
    (natoms, 3), Bohr, with the damping parameters of `functional` (a key of PARAMETERS)."""
    model = DispersionModel(np.asarray(numbers, dtype=np.int64),
                            np.asarray(positions, dtype=np.float64))
    result = model.get_dispersion(RationalDampingParam(method=PARAMETERS[functional], atm=False),
                                  grad=True)
    return float(result["energy"]), np.asarray(result["gradient"], dtype=np.float64)
