"""Molecule construction from SMILES and xyz, and the errors that name bad input."""

import numpy as np
import pytest

from dftgen import EmbeddingError, Molecule, MoleculeError, SmilesError
from dftgen.elements import ANGSTROM_BOHR, UnsupportedElementError


def test_from_smiles_adds_hydrogens_and_uses_bohr():
    mol = Molecule.from_smiles("CCO", seed=0)
    assert mol.symbols.count("H") == 6 and mol.n_heavy == 3
    assert mol.charge == 0 and mol.spin == 0 and mol.n_electrons == 26
    # a C-C bond is ~1.5 Angstrom, ~2.9 Bohr
    cc = np.linalg.norm(mol.positions[0] - mol.positions[1])
    assert 2.6 < cc < 3.1


def test_from_smiles_is_deterministic_per_seed():
    a = Molecule.from_smiles("CC(=O)Nc1ccc(O)cc1", seed=7)
    b = Molecule.from_smiles("CC(=O)Nc1ccc(O)cc1", seed=7)
    c = Molecule.from_smiles("CC(=O)Nc1ccc(O)cc1", seed=8)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert np.abs(a.positions - c.positions).max() > 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2**31 - 2, 2**31 - 1, 2**40])
def test_conformers_returns_distinct_geometries(seed):
    confs = Molecule.conformers("CCCCO", 3, seed=seed)
    assert len(confs) == 3
    for a, b in ((0, 1), (0, 2), (1, 2)):  # RDKit's seed 0 made every conformer the same
        assert np.abs(confs[a].positions - confs[b].positions).max() > 1e-3
    again = Molecule.conformers("CCCCO", 3, seed=seed)
    np.testing.assert_array_equal(confs[2].positions, again[2].positions)


def test_mmff_relaxation_changes_geometry():
    raw = Molecule.from_smiles("CCO", seed=0)
    relaxed = Molecule.from_smiles("CCO", seed=0, optimize="mmff")
    assert np.abs(raw.positions - relaxed.positions).max() > 1e-4


def test_charge_and_radicals_from_smiles():
    assert Molecule.from_smiles("[NH4+]").charge == 1
    assert Molecule.from_smiles("[CH3]").spin == 1


def test_xyz_round_trip(water):
    again = Molecule.from_xyz(water.to_xyz())
    np.testing.assert_allclose(again.positions, water.positions, atol=1e-9)
    assert again.symbols == ["O", "H", "H"]
    assert water.positions[1, 1] == pytest.approx(0.755453 * ANGSTROM_BOHR)


def test_xyz_from_file(tmp_path, water):
    path = tmp_path / "w.xyz"
    path.write_text(water.to_xyz())
    assert Molecule.from_xyz(path).natoms == 3
    assert Molecule.from_xyz(str(path)).name == str(path)


def test_bad_smiles_names_the_input():
    with pytest.raises(SmilesError, match=r"C1CC\(\(N"):
        Molecule.from_smiles("C1CC((N")


def test_unsupported_element_in_smiles_names_it():
    with pytest.raises(MoleculeError, match=r"SMILES 'CC\[U\]': unsupported element 'U'"):
        Molecule.from_smiles("CC[U]")


def test_embedding_failure_names_the_input():
    # cyclopropyne: a triple bond in a three-membered ring has no 3D embedding
    with pytest.raises(EmbeddingError, match=r"SMILES 'C1#CC1'.*could not embed"):
        Molecule.from_smiles("C1#CC1", seed=0, timeout=5)


def test_unsupported_element_in_xyz_names_it():
    with pytest.raises(MoleculeError, match="line 3.*'Xx'"):
        Molecule.from_xyz("1\n\nXx 0 0 0\n")
    with pytest.raises(UnsupportedElementError, match="Z=118"):
        Molecule([118], [[0, 0, 0]])


def test_malformed_xyz_is_reported():
    with pytest.raises(MoleculeError, match="number of atoms"):
        Molecule.from_xyz("water\n\nO 0 0 0\n")
    with pytest.raises(MoleculeError, match="expected 2 atoms, found 1"):
        Molecule.from_xyz("2\n\nO 0 0 0\n")
    with pytest.raises(MoleculeError, match="does not exist"):
        Molecule.from_xyz("no_such_file.xyz")


def test_impossible_spin_is_rejected():
    with pytest.raises(MoleculeError, match="cannot have spin 0"):
        Molecule([1], [[0, 0, 0]], spin=0)
