"""Exchange-correlation functionals in JAX and the XC energy and potential matrix on a grid.

    eval_xc(name, rho, sigma)            pointwise (exc, vrho, vsigma), as pyscf.dft.libxc.eval_xc
    functional(name).hybrid / .is_gga    exact-exchange fraction; whether sigma is needed
    vxc(name, ao, weights, dm)           (n_electrons, E_xc, V_xc), as PySCF's NumInt.nr_rks
"""

from dftgen.xc.functionals import (
    COMPONENTS,
    FUNCTIONALS,
    Component,
    Functional,
    energy_and_potential,
    energy_density,
    eval_xc,
    functional,
)
from dftgen.xc.vxc import vxc

__all__ = [
    "COMPONENTS",
    "FUNCTIONALS",
    "Component",
    "Functional",
    "energy_and_potential",
    "energy_density",
    "eval_xc",
    "functional",
    "vxc",
]
