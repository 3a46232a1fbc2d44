"""Shard files, compaction, `open_dataset` and the QM1B Parquet export, on synthetic records
(the kernel's numbers are checked end to end in test_pipeline_e2e.py)."""

import h5py
import numpy as np
import pytest

from dftgen.data import open_dataset, shards
from dftgen.data.export import SCHEMA_FIELDS, to_parquet
from dftgen.data.shards import Block
from dftgen.elements import HARTREE_EV
from dftgen.molecule import Molecule
from dftgen.data.splits import split_of
from dftgen.pipeline.compact import compact
from dftgen.pipeline.failures import Failure
from dftgen.pipeline.ingest import MoleculeEntry, molecule_id
from dftgen.pipeline.records import MoleculeResult, to_block
from dftgen.presets import resolve
from dftgen.scf import DFTResult

SPLITS = [("train", 0.5), ("val", 0.25), ("test", 0.25)]


def fake_result(mol: Molecule, energy_ha: float, converged: bool = True) -> DFTResult:
    """A DFTResult with made-up, distinguishable numbers (the format does not care)."""
    n = mol.natoms
    return DFTResult(
        energy_ha=energy_ha, homo_ha=-0.3 + energy_ha * 1e-4, lumo_ha=0.1, gap_ha=0.4 - energy_ha * 1e-4,
        mo_energy=np.linspace(-1, 1, 2 * n), dipole_debye=np.array([energy_ha, 1.0, 2.0]),
        mulliken_charges=np.arange(n) * 0.01 + energy_ha * 1e-3, converged=converged, iterations=20,
        energy_history=np.full(20, energy_ha), energy_std_last5_ev=0.001 if converged else 0.5,
        nao=2 * n, settings=resolve("qm1b"), timings={},
    )


def molecule_result(smiles: str, n_conformers: int, energy0: float) -> MoleculeResult:
    mols = Molecule.conformers(smiles, n_conformers, seed=1)
    entry = MoleculeEntry(molecule_id(smiles), smiles, tuple(int(z) for z in mols[0].numbers))
    return MoleculeResult(entry, 7, mols, [fake_result(m, energy0 - k) for k, m in enumerate(mols)])


@pytest.fixture(scope="module")
def results():
    return [molecule_result("O", 2, -76.0), molecule_result("CO", 3, -115.0), molecule_result("CC", 1, -79.0)]


def test_block_roundtrip_keeps_every_column_with_units(tmp_path, results):
    failure = Failure.of_molecule(5, "C1CC", "parse", "SmilesError", "bad")
    block = to_block(results, [failure], forces=False)
    assert (block.n_molecules, block.n_conformers) == (3, 6)
    path = tmp_path / "a.h5"
    shards.write(path, block, {"config_hash": "abc", "settings": {"xc": "b3lyp5"}})
    back, attrs = shards.read(path)
    for group in ("molecules", "conformers", "atoms", "failures"):
        for name, column in getattr(block, group).items():
            np.testing.assert_array_equal(getattr(back, group)[name], column, err_msg=f"{group}/{name}")
    assert attrs["schema_version"] == shards.SCHEMA_VERSION and attrs["settings"] == {"xc": "b3lyp5"}
    with h5py.File(path) as f:
        assert f["conformers/energy_ev"].attrs["units"].startswith("eV")
        assert f["atoms/positions_bohr"].attrs["units"] == "Bohr"
        np.testing.assert_array_equal(f["molecules/conformer_start"][()], [0, 2, 5])
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_units_are_converted_once(results):
    block = to_block(results, [], forces=False)
    np.testing.assert_allclose(block.conformers["energy_ev"][0], -76.0 * HARTREE_EV, rtol=1e-15)
    np.testing.assert_array_equal(block.atoms["positions_bohr"][:3], results[0].conformers[0].positions)
    with_d3 = molecule_result("O", 1, -76.0)
    with_d3.results[0].dispersion_ha = -0.002
    column = to_block([with_d3], [], forces=False).conformers["dispersion_ev"]
    np.testing.assert_allclose(column, [-0.002 * HARTREE_EV], rtol=1e-15)


def test_take_molecules_carries_their_conformers_and_atoms(results):
    block = to_block(results, [], forces=False)
    one = block.take_molecules(np.array([2, 1]))
    assert list(one.molecules["smiles"]) == ["CC", "CO"]
    assert one.n_conformers == 4 and len(one.atoms["z"]) == 8 + 3 * 6
    np.testing.assert_array_equal(one.atoms["z"][:8], [6, 6, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(one.conformers["molecule_id"], [results[2].entry.id] + [results[1].entry.id] * 3)
    again = Block.concatenate([block.take_molecules([0]), block.take_molecules([1, 2])])
    for name, column in block.atoms.items():
        np.testing.assert_array_equal(again.atoms[name], column)


def write_parts(run_dir, results):
    parts = run_dir / "parts"
    parts.mkdir(parents=True)
    retry = Failure.of_molecule(results[0].entry.id, "O", "task", "OSError", "disk", retryable=True)
    final = Failure.of_molecule(9, "[Si]", "ingest", "UnsupportedElement", "Si")
    shards.write(parts / "a.h5", to_block(results[:2], [retry], forces=False), {})
    # a duplicate of CO (a task run twice) and a new molecule
    shards.write(parts / "b.h5", to_block(results[1:], [final], forces=False), {})


def test_compaction_keeps_each_molecule_once_and_splits_by_id(tmp_path, results):
    write_parts(tmp_path, results)
    index = compact(tmp_path, SPLITS, shard_mb=512, attrs={"config_hash": "h"})
    ds = open_dataset(tmp_path)
    assert len(ds) == 6 and ds.n_molecules == 3
    assert sorted(ds.molecule_ids) == sorted(r.entry.id for r in results)
    for name, entries in index["splits"].items():
        ids = ds.split(name).molecule_ids if entries else []
        assert all(split_of(np.array([i]), SPLITS)[0] == name for i in ids)
    failures = ds.failures
    # the retryable failure of water is superseded by its results
    assert list(failures["stage"]) == ["ingest"] and list(failures["molecule_id"]) == [9]
    assert ds.attrs["config_hash"] == "h"


def test_small_shard_size_rolls_over_to_several_files(tmp_path, results):
    write_parts(tmp_path, results)
    index = compact(tmp_path, [("train", 1.0)], shard_mb=1e-6, attrs={})
    # a shard closes at the first part boundary past the size: here after every part
    assert [s["molecules"] for s in index["splits"]["train"]] == [2, 1]
    assert len(open_dataset(tmp_path)) == 6


def test_random_access_and_chunks_return_the_stored_values(tmp_path, results):
    write_parts(tmp_path, results)
    compact(tmp_path, [("train", 1.0)], shard_mb=512, attrs={})
    ds = open_dataset(tmp_path)
    by_energy = {}
    for m in results:
        for mol, r in zip(m.conformers, m.results):
            by_energy[round(r.energy_ha * HARTREE_EV, 6)] = (m.entry, mol, r)
    for i in range(len(ds)):
        row = ds[i]
        entry, mol, r = by_energy[round(row["energy_ev"], 6)]
        assert row["smiles"] == entry.smiles and row["molecule_id"] == entry.id
        np.testing.assert_array_equal(row["positions_bohr"], mol.positions)
        np.testing.assert_array_equal(row["z"], mol.numbers)
        assert row["gap_ev"] == r.gap_ha * HARTREE_EV and row["nao"] == r.nao
    assert ds[-1]["energy_ev"] == ds[len(ds) - 1]["energy_ev"]
    with pytest.raises(IndexError):
        ds[len(ds)]
    chunks = list(ds.chunks(size=4))
    assert [len(c["energy_ev"]) for c in chunks] == [4, 2]
    second = chunks[1]
    row = ds[5]
    offsets = second["atom_offsets"]
    np.testing.assert_array_equal(second["positions_bohr"][offsets[1]:offsets[2]], row["positions_bohr"])
    assert second["smiles"][1] == row["smiles"]


def test_open_dataset_explains_a_folder_without_shards(tmp_path):
    with pytest.raises(FileNotFoundError, match="dftgen generate"):
        open_dataset(tmp_path)


def test_parquet_export_has_qm1b_columns_and_drops_unconverged(tmp_path, results):
    import pyarrow.parquet as pq

    unconverged = molecule_result("N", 1, -56.0)
    unconverged.results[0] = fake_result(unconverged.conformers[0], -56.0, converged=False)
    parts = tmp_path / "parts"
    parts.mkdir()
    shards.write(parts / "a.h5", to_block(results + [unconverged], [], forces=False), {})
    compact(tmp_path, [("train", 1.0)], shard_mb=512, attrs={})
    ds = open_dataset(tmp_path)
    rows = to_parquet(ds, tmp_path / "out")
    assert rows == {"train": 6}
    table = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert tuple(pq.read_schema(tmp_path / "out" / "train.parquet").names) == SCHEMA_FIELDS
    by_energy = {round(ds[i]["energy_ev"], 6): ds[i] for i in range(len(ds))}
    for row in table:
        stored = by_energy[round(row["energy"], 6)]
        assert row["smile"] == stored["smiles"] and row["N"] == stored["nao"]
        assert (row["homo"], row["lumo"], row["y"], row["std"]) == (
            stored["homo_ev"], stored["lumo_ev"], stored["gap_ev"], stored["energy_std_last5_ev"])
        assert row["z"] == stored["z"].tolist()
        assert row["atoms"] == "".join({1: "H", 6: "C", 7: "N", 8: "O"}[z] for z in row["z"])
        np.testing.assert_array_equal(np.reshape(row["pos"], (-1, 3)), stored["positions_bohr"])
    assert to_parquet(ds, tmp_path / "all", include_unconverged=True) == {"train": 7}
