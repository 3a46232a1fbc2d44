"""Extended-XYZ and ASE-database exports: every value read back by ASE equals the shards'
value in ASE's units (exactly for per-frame values and databases; to extxyz's 8 decimals for
per-atom columns)."""

import numpy as np
import pytest
from ase.db import connect
from ase.io import read

from dftgen.data import open_dataset, shards
from dftgen.data.atoms_export import to_ase_db, to_extxyz
from dftgen.elements import BOHR_ANGSTROM, DEBYE_AU
from dftgen.pipeline.compact import compact
from dftgen.pipeline.records import to_block
from test_shards import molecule_result

EXTXYZ_DECIMALS = 5e-9  # half the last digit of ASE's %16.8f per-atom columns


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    results = [molecule_result(smiles, n, e) for smiles, n, e in
               [("O", 2, -76.0), ("CCO", 3, -155.0), ("C", 2, -40.0), ("N", 1, -56.0)]]
    for r in results:
        for k, res in enumerate(r.results):
            res.forces_ha_bohr = np.arange(3 * r.conformers[k].natoms).reshape(-1, 3) * 1e-3 - k
    (run / "parts").mkdir()
    shards.write(run / "parts" / "a.h5", to_block(results, [], forces=True), {})
    compact(run, [("train", 0.5), ("test", 0.5)], shard_mb=512, attrs={})
    return open_dataset(run)


def _splits(dataset):
    names = [name for name in dataset.split_names if len(dataset.split(name))]
    assert names
    return names


def _stored(dataset, split):
    return {(row["molecule_id"], row["conformer"]): row for row in dataset.split(split)}


def test_extxyz_reads_back_every_value_in_ase_units(dataset, tmp_path):
    written = to_extxyz(dataset, tmp_path)
    assert written == {name: len(dataset.split(name)) for name in _splits(dataset)}
    for split in _splits(dataset):
        stored = _stored(dataset, split)
        frames = read(tmp_path / f"{split}.extxyz", index=":")
        assert len(frames) == len(stored)
        for atoms in frames:
            row = stored[(atoms.info["molecule_id"], atoms.info["conformer"])]
            assert atoms.info["smiles"] == row["smiles"] and atoms.info["config_type"] == split
            assert "energy:eV" in atoms.info["units"] and "forces:eV/Ang" in atoms.info["units"]
            assert atoms.get_potential_energy() == row["energy_ev"] == atoms.info["REF_energy"]
            assert (atoms.info["homo"], atoms.info["lumo"], atoms.info["gap"]) == (
                row["homo_ev"], row["lumo_ev"], row["gap_ev"])
            np.testing.assert_array_equal(atoms.numbers, row["z"])
            np.testing.assert_allclose(atoms.positions, row["positions_bohr"] * BOHR_ANGSTROM,
                                       rtol=0, atol=EXTXYZ_DECIMALS)
            forces = row["forces_ev_bohr"] / BOHR_ANGSTROM
            for got in (atoms.get_forces(), atoms.arrays["REF_forces"]):
                np.testing.assert_allclose(got, forces, rtol=0, atol=EXTXYZ_DECIMALS)
            for got in (atoms.get_charges(), atoms.arrays["REF_charges"]):
                np.testing.assert_allclose(got, row["mulliken_charges_e"], rtol=0,
                                           atol=EXTXYZ_DECIMALS)
            dipole = row["dipole_debye"] / DEBYE_AU * BOHR_ANGSTROM
            np.testing.assert_array_equal(atoms.get_dipole_moment(), dipole)
            np.testing.assert_array_equal(atoms.info["REF_dipole"], dipole)


def test_ase_db_holds_every_value_exactly_in_schnetpack_layout(dataset, tmp_path):
    written = to_ase_db(dataset, tmp_path)
    for split in _splits(dataset):
        stored = _stored(dataset, split)
        with connect(tmp_path / f"{split}.db") as db:
            assert db.count() == written[split] == len(stored)
            meta = db.metadata
            assert meta["_distance_unit"] == "Ang" and meta["_property_unit_dict"]["energy"] == "eV"
            for db_row in db.select():
                row = stored[(db_row.molecule_id, db_row.conformer)]
                assert db_row.smiles == row["smiles"] and db_row.split == split
                np.testing.assert_array_equal(db_row.positions, row["positions_bohr"] * BOHR_ANGSTROM)
                assert db_row.data["energy"][0] == row["energy_ev"]
                np.testing.assert_array_equal(db_row.data["forces"],
                                              row["forces_ev_bohr"] / BOHR_ANGSTROM)
                np.testing.assert_array_equal(db_row.data["charges"], row["mulliken_charges_e"])
                assert db_row.data["gap"][0] == row["gap_ev"]


def test_schnetpack_reads_the_database(dataset, tmp_path):
    spk_data = pytest.importorskip("schnetpack.data")
    to_ase_db(dataset, tmp_path)
    data = spk_data.ASEAtomsData(str(tmp_path / f"{_splits(dataset)[0]}.db"))
    sample = data[0]
    assert set(data.available_properties) >= {"energy", "forces", "dipole", "charges", "gap"}
    assert sample["energy"].shape == (1,) and sample["_positions"].shape[1] == 3
