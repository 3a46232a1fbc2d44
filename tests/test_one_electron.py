"""Overlap, kinetic and nuclear-attraction matrices against PySCF's int1e_ovlp, int1e_kin
and int1e_nuc: 1e-10 max abs in float64, 1e-5 of the matrix's max abs in float32; nuclear
repulsion against mol.energy_nuc(); gradients with respect to positions against central
finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dftgen import integrals
from finite_differences import central_gradient

PYSCF_NAMES = ("int1e_ovlp", "int1e_kin", "int1e_nuc")
FAST = [("water", "sto-3g"), ("water", "6-31g*"), ("water", "def2-svp"), ("nine_heavy", "sto-3g")]
ALL = [(m, b) for m in ("water", "methane", "benzene", "nine_heavy")
       for b in ("sto-3g", "6-31g*", "def2-svp", "6-31g(2df,p)")]
CASES = [pytest.param(m, b, marks=() if (m, b) in FAST else pytest.mark.slow) for m, b in ALL]


_REFERENCES = {}


def _pyscf(mol, basis):
    key = (mol.name, mol.natoms, basis)
    if key not in _REFERENCES:
        pm = mol.to_pyscf(basis)
        _REFERENCES[key] = tuple(pm.intor(name) for name in PYSCF_NAMES), pm.energy_nuc()
    return _REFERENCES[key]


@pytest.mark.parametrize("name, basis", CASES)
def test_float64_equals_pyscf(name, basis, test_molecules):
    mol = test_molecules[name]
    ours = integrals.one_electron_integrals(mol, basis)
    refs, _ = _pyscf(mol, basis)
    for got, ref in zip(ours, refs):
        assert got.dtype == jnp.float64 and got.shape == ref.shape
        assert np.max(np.abs(np.asarray(got) - ref)) < 1e-10


@pytest.mark.parametrize("name, basis", [("nine_heavy", "sto-3g"),
                                         pytest.param("water", "6-31g(2df,p)", marks=pytest.mark.slow),
                                         pytest.param("benzene", "def2-svp", marks=pytest.mark.slow)])
def test_float32_equals_pyscf(name, basis, test_molecules):
    mol = test_molecules[name]
    ours = integrals.one_electron_integrals(mol, basis, precision="float32")
    refs, _ = _pyscf(mol, basis)
    for got, ref in zip(ours, refs):
        assert got.dtype == jnp.float32
        assert np.max(np.abs(np.asarray(got, dtype=np.float64) - ref)) < 1e-5 * np.max(np.abs(ref))


def test_single_matrix_functions(water):
    refs, _ = _pyscf(water, "sto-3g")
    for fn, ref in zip((integrals.overlap, integrals.kinetic, integrals.nuclear), refs):
        assert np.max(np.abs(np.asarray(fn(water, "sto-3g")) - ref)) < 1e-10


def test_nuclear_repulsion(test_molecules):
    for mol in test_molecules.values():
        _, ref = _pyscf(mol, "sto-3g")
        assert abs(float(integrals.nuclear_repulsion(mol)) - ref) < 1e-10


def test_gradients_match_finite_differences(water):
    """d/dR of a fixed weighting of S, T, V and E_nuc, by jax.grad and central differences."""
    weights = np.random.default_rng(0).normal(size=(3, 7, 7))

    def scalar(positions):
        moved = water.with_positions(positions)
        mats = integrals.one_electron_integrals(moved, "sto-3g")
        return sum(jnp.sum(w * m) for w, m in zip(weights, mats)) + integrals.nuclear_repulsion(moved)

    r0 = jnp.asarray(water.positions)
    grad = np.asarray(jax.grad(scalar)(r0))
    np.testing.assert_allclose(grad, central_gradient(scalar, r0), atol=1e-7)


def test_cross_overlap_equals_pyscf_intor_cross(water):
    """<6-31G*|def2-SVP> (a d shell on one side, five-primitive s on the other) against
    gto.intor_cross, 1e-10; a basis against itself (shells that would merge) is refused."""
    from pyscf import gto

    from dftgen import basis

    a, b = basis.build(water, "6-31g*"), basis.build(water, "def2-svp")
    ours = np.asarray(integrals.cross_overlap(water, a, b))
    ref = gto.intor_cross("int1e_ovlp", water.to_pyscf("6-31g*"), water.to_pyscf("def2-svp"))
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) < 1e-10
    with pytest.raises(ValueError, match=r"<6-31g\*\|6-31g\*>: .*share exponents"):
        integrals.cross_overlap(water, a, a)


def test_every_molecule_size_runs_the_programs_of_the_first(test_molecules):
    """Concrete positions take programs shared by every molecule size (pairs and nuclei in
    fixed chunks): after water, methane and nine heavy atoms in STO-3G compile nothing, and
    equal their own one-program matrices (the traced path forces take)."""
    from dftgen.integrals import one_electron
    from dftgen.integrals.layout import layout_and_arrays

    integrals.one_electron_integrals(test_molecules["water"], "sto-3g")
    before = one_electron._one_electron_chunk.cache_size()
    for name in ("methane", "nine_heavy"):
        mol = test_molecules[name]
        got = integrals.one_electron_integrals(mol, "sto-3g")
        whole = one_electron._jitted["all"](*layout_and_arrays(mol, "sto-3g"))
        for a, b in zip(got, whole):
            assert np.max(np.abs(np.asarray(a) - np.asarray(b))) < 1e-13
    assert one_electron._one_electron_chunk.cache_size() == before


def test_every_part_in_one_pass_equals_pyscf_beyond_one_nucleus_chunk():
    """`one_electron.matrices` as the SCF calls it (S, T, V and the position integrals from
    the same programs, each unordered pair once and mirrored) on dodecane, 38 atoms: more
    nuclei than one call takes (ATOM_CHUNK), so V sums two calls. 1e-10 max abs against
    int1e_ovlp, int1e_kin, int1e_nuc and int1e_r."""
    from dftgen import Molecule
    from dftgen.integrals import one_electron

    mol = Molecule.from_smiles("CCCCCCCCCCCC", seed=0)
    assert mol.natoms > one_electron.ATOM_CHUNK
    got = one_electron.matrices(mol, "sto-3g")
    pm = mol.to_pyscf("sto-3g")
    for part, name in zip(one_electron.PARTS, PYSCF_NAMES + ("int1e_r",)):
        assert np.max(np.abs(np.asarray(got[part]) - pm.intor(name))) < 1e-10, part
