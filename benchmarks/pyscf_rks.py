"""PySCF's side of the benchmarks: one timed RKS (RHF for xc="hf") at dftgen's settings."""

from __future__ import annotations

import time


def pyscf_run(mol, settings, auxbasis: str | None = None):
    """(seconds around kernel(), energy, gap) of PySCF at the settings' functional, basis, grid
    and conv_tol, integrating the full grid (small_rho_cutoff 0, as dftgen does), density-fitted
    with `auxbasis` when one is given."""
    from pyscf import dft, scf

    pmol = mol.to_pyscf(settings.basis)
    mf = scf.RHF(pmol) if settings.xc == "hf" else dft.RKS(pmol)
    if auxbasis is not None:
        mf = mf.density_fit(auxbasis=auxbasis)
    if settings.xc != "hf":
        mf.xc = settings.xc
        mf.grids.level = settings.grid_level
        mf.small_rho_cutoff = 0.0
    mf.conv_tol = settings.conv_tol
    mf.verbose = 0
    start = time.perf_counter()
    mf.kernel()
    elapsed = time.perf_counter() - start
    n = pmol.nelectron // 2
    return elapsed, mf.e_tot, mf.mo_energy[n] - mf.mo_energy[n - 1]
