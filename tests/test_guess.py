"""Initial guesses against PySCF: minao as init_guess_by_minao, core as init_guess_by_1e."""

import numpy as np
import pytest
from pyscf import scf

from dftgen import basis, guess, integrals


@pytest.mark.parametrize("name", ["sto-3g", "6-31g*"])
def test_minao_equals_pyscf(water, name):
    bas = basis.build(water, name)
    ref = scf.hf.init_guess_by_minao(water.to_pyscf(name))
    np.testing.assert_allclose(guess.minao(water, bas), ref, atol=1e-10, rtol=0)
    assert guess.minao_orbitals(water, bas).shape == (bas.nao, 7)  # O 1s 2s 2p, H 1s


def test_core_equals_pyscf(water):
    bas = basis.build(water, "sto-3g")
    s = np.asarray(integrals.overlap(water, bas))
    h = np.asarray(integrals.kinetic(water, bas)) + np.asarray(integrals.nuclear(water, bas))
    pmol = water.to_pyscf("sto-3g")
    ref = scf.RHF(pmol).init_guess_by_1e()
    np.testing.assert_allclose(guess.core(h, s, pmol.nelectron // 2), ref, atol=1e-10, rtol=0)
