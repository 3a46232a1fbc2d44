"""PySCF-built inputs shared by the XC tests (PySCF as oracle and input source)."""

from pyscf import dft


def water_on_pyscf_grid(water, level):
    """PySCF water in 6-31G*, its grid at `level`, AO values with gradients (4, npts, nao) and
    the minao guess density."""
    mol = water.to_pyscf("6-31g*")
    grids = dft.gen_grid.Grids(mol)
    grids.level = level
    grids.build()
    ao = mol.eval_gto("GTOval_sph_deriv1", grids.coords)
    return mol, grids, ao, dft.RKS(mol).get_init_guess()
