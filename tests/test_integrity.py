"""Checksums and provenance in every file, `dftgen verify`, and a damaged part file found,
quarantined and recomputed on resume (synthetic records: the format does not care)."""

import dataclasses
import json

import h5py
import numpy as np
import pytest

from dftgen.cli import main
from dftgen.data import open_dataset, shards
from dftgen.data.verify import verify_run
from dftgen.pipeline.compact import compact
from dftgen.pipeline.records import to_block
from dftgen.pipeline.resume import QUARANTINE, scan
from test_shards import molecule_result


@pytest.fixture()
def run(tmp_path):
    results = [molecule_result("O", 2, -76.0), molecule_result("CCO", 2, -155.0)]
    (tmp_path / "parts").mkdir()
    for k, r in enumerate(results):
        shards.write(tmp_path / "parts" / f"t{k}.h5", to_block([r], [], forces=False), {})
    compact(tmp_path, [("train", 1.0)], shard_mb=512, attrs={})
    return tmp_path


def test_files_carry_checksums_and_provenance(run):
    with h5py.File(run / "parts" / "t0.h5") as f:
        assert all("sha256" in f[g][c].attrs for g in shards.GROUPS for c in f[g])
        provenance = json.loads(f.attrs["provenance"])
    assert provenance["versions"]["jax"] and provenance["versions"]["pyscf"]
    assert provenance["machine"]["cores"] >= 1 and provenance["python"].startswith("3.")
    index = json.loads((run / "shards" / "index.json").read_text())
    assert all(len(e["sha256"]) == 64 for e in index["splits"]["train"])
    assert verify_run(run) == {"files_checked": 4, "problems": []}  # 2 parts, shard, failures
    assert main(["verify", str(run)]) == 0


def _flip_a_value(path):
    with h5py.File(path, "r+") as f:
        energies = f["conformers/energy_ev"]
        energies[0] = energies[0] + 1e-9  # the checksum attribute stays as written


def test_a_changed_value_is_named_by_read_and_verify(run, capsys):
    shard = next((run / "shards").glob("train-*.h5"))
    _flip_a_value(shard)
    with pytest.raises(shards.ShardError, match=r"train-00000\.h5: column /conformers/energy_ev "
                                                r"fails its checksum"):
        shards.read(shard)
    with pytest.raises(shards.ShardError, match="fails its checksum"):
        open_dataset(run)[0]
    assert main(["verify", str(run)]) == 1
    out = capsys.readouterr().out
    assert "energy_ev fails its checksum" in out and "differs from the file index.json" in out


def test_a_truncated_or_foreign_file_is_one_clear_error(run, tmp_path):
    part = run / "parts" / "t1.h5"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    with pytest.raises(shards.ShardError, match=r"t1\.h5: not a readable shard file"):
        shards.read(part)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["schema_version"] = 99
    assert shards.verify(foreign) == [f"{foreign}: not a dftgen shard of this schema "
                                      f"(schema version 99, this dftgen reads {shards.SCHEMA_VERSION})"]


def test_resume_quarantines_a_damaged_part_so_its_molecules_run_again(run):
    damaged = run / "parts" / "t1.h5"
    ids = set(shards.read(damaged)[0].molecules["id"].tolist())
    _flip_a_value(damaged)
    index = scan(run / "parts")
    assert len(index.damaged) == 1 and "t1.h5" in index.damaged[0]
    assert (run / "parts" / QUARANTINE / "t1.h5").is_file() and not damaged.exists()
    assert not ids & index.finished and index.names == {"t0"}
    assert np.all([i in index.finished for i in shards.read(run / "parts" / "t0.h5")[0].molecules["id"]])


def test_the_dataset_card_is_written_from_the_run_metadata(tmp_path):
    from dftgen.data.card import write_card
    from dftgen.presets import PRESETS, level_of_theory, resolve

    (tmp_path / "parts").mkdir()
    shards.write(tmp_path / "parts" / "a.h5", to_block([molecule_result("CO", 2, -115.0)], [],
                                                       forces=False), {})
    settings = {"settings": dataclasses.asdict(resolve("qm1b")), "code_version": "9.9",
                "spec": {"conformers": {"per_molecule": 2, "optimize": None}},
                "preset": "qm1b", "preset_provenance": PRESETS["qm1b"].provenance,
                "level_of_theory": level_of_theory(resolve("qm1b"))}
    compact(tmp_path, [("train", 1.0)], shard_mb=512, attrs={"config_hash": "abc", **settings})
    text = write_card(tmp_path).read_text()
    assert "Config hash `abc`" in text and text.count("b3lyp5/sto-3g") == 1
    assert "- b3lyp5/sto-3g (spherical shells, grid level 0, exact ERIs), precision float32" in text
    assert "- preset `qm1b`: QM1B" in text
    assert "| train | 1 | 2 | 1 |" in text and "dftgen 9.9" in text
    assert "jax" in text and "cores" in text
