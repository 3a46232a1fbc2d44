"""Initial-guess density matrices: core Hamiltonian and minao.

minao (PySCF's default, and QM1B's): each atom contributes a spherically averaged density in
a minimal basis made of the occupied shells of the ANO basis, occupied as the
non-relativistic spin-restricted Hartree-Fock ground configuration (fractional occupation
for an open shell); the block-diagonal atomic density D_min is then projected onto the
target basis by P = S^-1 <target|minimal>:  D = P D_min P^T.

Densities are (nao, nao) float64 numpy arrays (computed once per molecule, outside the
SCF's compiled loop); dm = 2 * C_occ C_occ^T. Each guess also gives its orbitals weighted
by the square roots of their occupations, F (nao, n) with dm = F F^T (`*_orbitals`): fitted
exchange from them costs n / nao of that from the density.
"""

from __future__ import annotations

import functools

import numpy as np

from dftgen import integrals, pyscf_data
from dftgen.basis import BasisSet, Shell, normalised_contraction
from dftgen.elements import symbol


def core(h: np.ndarray, s: np.ndarray, n_occ: int) -> np.ndarray:
    """Density of the lowest `n_occ` doubly occupied eigenvectors of h C = S C e."""
    f = core_orbitals(h, s, n_occ)
    return f @ f.T


def core_orbitals(h: np.ndarray, s: np.ndarray, n_occ: int) -> np.ndarray:
    """`core`'s occupied orbitals times sqrt(2), (nao, n_occ)."""
    from scipy.linalg import eigh

    _, c = eigh(h, s)
    return np.sqrt(2.0) * c[:, :n_occ]


def minao(mol, basis: BasisSet, s: np.ndarray | None = None) -> np.ndarray:
    """The minao guess density of `mol` in `basis` (nao, nao), as PySCF's init_guess_by_minao.

    s: the overlap matrix of `basis` (nao, nao), when the caller has it already."""
    f = minao_orbitals(mol, basis, s)
    return f @ f.T


def minao_orbitals(mol, basis: BasisSet, s: np.ndarray | None = None) -> np.ndarray:
    """`minao`'s projected minimal-basis functions times the square roots of their
    occupations, (nao, n_minimal)."""
    minimal, occupations = [], []
    for atom, z in enumerate(mol.numbers):
        for l, exps, coefs, occ in _atomic_minimal_shells(int(z)):
            minimal.append(Shell(atom, l, exps, coefs))
            occupations.append(np.full(2 * l + 1, occ))
    minimal = BasisSet(name="minao", shells=tuple(minimal), numbers=basis.numbers)
    if s is None:
        s = np.asarray(integrals.overlap(mol, basis, precision="float64"))
    cross = np.asarray(integrals.cross_overlap(mol, basis, minimal, precision="float64"))
    return np.linalg.solve(s, cross) * np.sqrt(np.concatenate(occupations))


@functools.lru_cache(maxsize=None)
def _atomic_minimal_shells(z: int):
    """(l, exponents, coefficients, occupation per AO) of each occupied ANO shell of element z."""
    ano = pyscf_data.basis("ano", symbol(z))
    configuration = pyscf_data.configuration(z)
    shells = []
    for l in range(4):
        electrons = configuration[l]
        if electrons == 0:
            continue
        capacity = 2 * (2 * l + 1)
        n_closed = electrons // capacity
        fraction = 2.0 * (electrons / capacity - n_closed)  # electrons per AO of the open shell
        table = np.array(ano[l][1:], dtype=np.float64)  # rows: exponent, contraction columns
        occs = [2.0] * n_closed + [fraction]
        for column, occ in enumerate(occs, start=1):
            if occ == 0.0:
                continue  # an empty shell adds nothing to the density
            coefs = normalised_contraction(l, table[:, 0], table[:, column])
            shells.append((l, tuple(table[:, 0]), tuple(coefs), occ))
    return tuple(shells)
