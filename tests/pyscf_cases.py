"""PySCF-built inputs and references shared by the tests (PySCF as oracle and input source)."""

from pyscf import dft, scf


def water_on_pyscf_grid(water, level):
    """PySCF water in 6-31G*, its grid at `level`, AO values with gradients (4, npts, nao) and
    the minao guess density."""
    mol = water.to_pyscf("6-31g*")
    grids = dft.gen_grid.Grids(mol)
    grids.level = level
    grids.build()
    ao = mol.eval_gto("GTOval_sph_deriv1", grids.coords)
    return mol, grids, ao, dft.RKS(mol).get_init_guess()


def pyscf_reference(mol, basis, xc, grid_level=0, cart=False, auxbasis=None, conv_tol_grad=None):
    """PySCF's converged RKS (RHF for xc="hf") on a dftgen Molecule, with Cartesian shells if
    `cart`, density-fitted with `auxbasis` if given, to conv_tol 1e-11 and `conv_tol_grad`
    (None: PySCF's default, sqrt(conv_tol)): (mf, energy, HOMO, LUMO) in Hartree."""
    pmol = mol.to_pyscf(basis, cart=cart)
    mf = scf.RHF(pmol) if xc == "hf" else dft.RKS(pmol)
    if auxbasis is not None:
        mf = mf.density_fit(auxbasis=auxbasis)
    if xc != "hf":
        mf.xc = xc
        mf.grids.level = grid_level
        mf.small_rho_cutoff = 0.0
    mf.conv_tol = 1e-11
    mf.conv_tol_grad = conv_tol_grad
    mf.kernel()
    assert mf.converged
    n = pmol.nelectron // 2
    return mf, mf.e_tot, mf.mo_energy[n - 1], mf.mo_energy[n]
