"""PySCF's side of the benchmarks: one timed RKS (RHF for Hartree-Fock) at dftgen's settings."""

from __future__ import annotations

import time

DISPERSION = "-d3bj"


def shells_note(mol, settings) -> str | None:
    """Where PySCF's basis differs from dftgen's, a line saying so: PySCF has no mixed "6d7f"
    shells and runs all-Cartesian ones for them, the same basis where the set has no f
    functions, a larger one where it has."""
    if settings.shells != "6d7f":
        return None
    pmol = mol.to_pyscf(settings.basis, cart=True)
    if max(pmol.bas_angular(i) for i in range(pmol.nbas)) <= 2:
        return None
    return (f"PySCF has no 6d7f shells: it runs {settings.basis} with Cartesian f functions too "
            f"(nao {pmol.nao} on {mol.name}), a larger basis than dftgen's; dE compares the two")


def pyscf_run(mol, settings, auxbasis: str | None = None):
    """(seconds around kernel(), energy, gap) of `mean_field`'s calculation."""
    mf = mean_field(mol, settings, auxbasis)
    start = time.perf_counter()
    mf.kernel()
    elapsed = time.perf_counter() - start
    n = mf.mol.nelectron // 2
    return elapsed, mf.e_tot, mf.mo_energy[n] - mf.mo_energy[n - 1]


def mean_field(mol, settings, auxbasis: str | None = None):
    """PySCF's RKS (RHF for Hartree-Fock), not yet run, at the settings' functional (a
    "-d3bj" suffix adds PySCF's D3(BJ) through pyscf-dispersion), basis, shells, grid level
    and conv_tol, integrating the full grid (small_rho_cutoff 0, as dftgen does),
    density-fitted with `auxbasis` when one is given; its defaults otherwise (DIIS, minao
    guess)."""
    from pyscf import dft, lib, scf

    pmol = mol.to_pyscf(settings.basis, cart=settings.shells != "spherical")
    base = settings.xc.lower().removesuffix(DISPERSION)
    if base == "hf":
        mf = scf.RHF(pmol)
        if settings.xc.lower().endswith(DISPERSION):
            mf.disp = DISPERSION[1:]
    else:
        mf = dft.RKS(pmol)
        mf.xc = settings.xc
        mf.grids.level = settings.grid_level
        mf.small_rho_cutoff = 0.0
    if auxbasis is not None:
        mf = mf.density_fit(auxbasis=auxbasis)
    # PySCF keeps its ERIs in memory while nao^4 / 1e6 MB + this process's resident memory
    # fit in max_memory; dftgen's arrays share the process, so count them out of it
    mf.max_memory += lib.current_memory()[0]
    if auxbasis is not None:
        mf.with_df.max_memory = mf.max_memory
    mf.conv_tol = settings.conv_tol
    mf.verbose = 0
    return mf
