"""Basis sets: shells, order, normalisation and spherical transforms identical to PySCF's."""

import numpy as np
import pytest
from pyscf import gto

from dftgen import basis
from dftgen.elements import UnsupportedElementError

BASES = ["sto-3g", "6-31g", "6-31g*", "6-31g(2df,p)", "def2-svp", "cc-pvtz"]


def _pyscf_shells(pmol):
    """(atom, l, exponents, coefficient column) per contraction column, as libcint stores them."""
    out = []
    for ib in range(pmol.nbas):
        cs = pmol._libcint_ctr_coeff(ib)
        for k in range(cs.shape[1]):
            out.append((pmol.bas_atom(ib), pmol.bas_angular(ib), pmol.bas_exp(ib), cs[:, k]))
    return out


@pytest.mark.parametrize("name", BASES)
def test_shells_match_pyscf(benzene, name):
    bas = basis.build(benzene, name)
    pmol = benzene.to_pyscf(name)
    assert bas.nao == pmol.nao_nr()
    ref = _pyscf_shells(pmol)
    assert len(ref) == bas.nshell
    for shell, (atom, l, exps, coefs) in zip(bas.shells, ref):
        assert (shell.atom, shell.l) == (atom, l)
        keep = coefs != 0
        np.testing.assert_allclose(shell.exponents, exps[keep], rtol=1e-14)
        np.testing.assert_allclose(shell.coefficients, coefs[keep], rtol=1e-12)


def test_padded_arrays(water):
    bas = basis.build(water, "6-31g*")
    assert bas.exponents.shape == (bas.nshell, bas.nprim.max())
    for i, shell in enumerate(bas.shells):
        assert np.all(bas.coefficients[i, shell.nprim :] == 0.0)
        assert np.all(bas.exponents[i, shell.nprim :] == 1.0)
    assert list(np.diff(bas.ao_loc)) == [2 * s.l + 1 for s in bas.shells]


def test_ao_atoms_match_pyscf(water):
    bas = basis.build(water, "6-31g*")
    labels = water.to_pyscf("6-31g*").ao_labels(fmt=False)
    assert bas.ao_atom.tolist() == [lab[0] for lab in labels]


@pytest.mark.parametrize("l", [0, 1, 2, 3])
def test_cart2sph_matches_pyscf(l):
    np.testing.assert_allclose(basis.cart2sph(l), gto.cart2sph(l), atol=1e-14)


def test_shape_key_groups_same_structure():
    from dftgen import Molecule

    a = Molecule.from_smiles("CCO")  # C, C, O + 6 H
    b = Molecule.from_smiles("CCN")  # C, C, N + 7 H
    c = Molecule.from_smiles("COC")  # C, O, C + 6 H: same shell structure as CCO in STO-3G
    key = lambda m: basis.build(m, "sto-3g").shape_key
    assert key(a) == key(c) and key(a) != key(b)


def test_unknown_basis_is_named():
    from dftgen import Molecule

    mol = Molecule.from_smiles("O")
    with pytest.raises(basis.BasisError, match="unknown basis set 'no-such-basis'"):
        basis.build(mol, "no-such-basis")


def test_element_missing_from_basis_is_named():
    from dftgen import Molecule

    potassium_hydride = Molecule([19, 1], [[0.0, 0.0, 0.0], [0.0, 0.0, 4.2]])
    with pytest.raises(UnsupportedElementError, match="basis 'cc-pvdz' has no functions for element K"):
        basis.build(potassium_hydride, "cc-pvdz")


def test_shells_beyond_f_are_refused():
    from dftgen import Molecule

    mol = Molecule.from_smiles("C")
    with pytest.raises(basis.BasisError, match=r"l=4 shell; dftgen supports l <= 3 here \(spdf\)"):
        basis.build(mol, "cc-pvqz")
