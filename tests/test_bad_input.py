"""Bad input, tried on purpose: malformed SMILES, xyz files, pipeline specs and shards each give
one error line naming the input, exit status 2, no traceback and no hang."""

import shutil

import pytest

from dftgen.cli import main
from dftgen.data import shards
from dftgen.pipeline.compact import compact
from dftgen.pipeline.records import to_block
from test_shards import molecule_result

SMILES = ["C1CC(", "C(C)(C)(C)(C)C", "Xx", "c1cccc1", "", "C(", "[Na+", "))(("]

XYZ = {
    "nan": "3\nw\nO 0 0 0\nH 0 0 nan\nH 0 1 0\n",
    "inf": "2\nw\nH 0 0 0\nH 0 0 inf\n",
    "overlapping": "2\nw\nO 0 0 0\nO 0 0 0.01\n",
    "no-atoms": "0\nempty\n",
    "unknown-element": "2\nw\nO 0 0 0\nXx 0 0 1\n",
    "count-too-high": "5\nw\nO 0 0 0\nH 0 0 1\n",
    "count-not-a-number": "three\nw\nO 0 0 0\n",
    "coordinates-missing": "1\nw\nO 0 0\n",
    "coordinates-garbage": "1\nw\nO a b c\n",
    "empty-file": "",
    "huge": "500\nbig\n" + "".join(f"C {1.5 * i} 0 0\n" for i in range(500)),
}

SPECS = {
    "unknown-key": ('[filter]\nheavy_atom = [1, 2]\n', r"unknown key\(s\) in \[filter\]"),
    "unknown-table": ('[filters]\nlimit = 1\n', r"unknown key\(s\): \['filters'\]"),
    "wrong-type": ('[conformers]\nper_molecule = "two"\n', r"per_molecule must be an integer"),
    "wrong-list": ('[filter]\nheavy_atoms = 3\n', r"heavy_atoms must be a list"),
    "bad-value": ('[conformers]\noptimize = "uff"\n', r"optimize must be"),
    "bad-toml": ('[filter\n', r"bad-toml\.toml"),
    "missing-source": ('[source]\nkind = "smiles"\npath = "nowhere.smi"\n', r"nowhere\.smi"),
}


def _one_line_error(capsys, *needles):
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("smiles", SMILES)
def test_malformed_smiles(smiles, capsys):
    assert main(["run", "--smiles", smiles]) == 2
    _one_line_error(capsys, "dftgen run: error:")


@pytest.mark.parametrize("name", sorted(XYZ))
def test_malformed_xyz(name, tmp_path, capsys):
    path = tmp_path / f"{name}.xyz"
    path.write_text(XYZ[name])
    assert main(["run", "--xyz", str(path)]) == 2
    _one_line_error(capsys, f"{name}.xyz")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_malformed_pipeline_spec(name, tmp_path, capsys):
    text, message = SPECS[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    assert main(["generate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys, "dftgen generate: error:")
    assert pytest.importorskip("re").search(message, err), err


@pytest.fixture()
def run(tmp_path):
    (tmp_path / "parts").mkdir()
    shards.write(tmp_path / "parts" / "a.h5", to_block([molecule_result("O", 1, -76.0)], [],
                                                       forces=False), {})
    compact(tmp_path, [("train", 1.0)], shard_mb=512, attrs={})
    return tmp_path


def test_truncated_shard(run, tmp_path, capsys):
    shard = next((run / "shards").glob("train-*.h5"))
    shard.write_bytes(shard.read_bytes()[:1000])
    assert main(["export", "parquet", str(run), str(tmp_path / "out")]) == 2
    _one_line_error(capsys, shard.name, "not a readable shard file")


def test_shard_of_another_schema_version(run, tmp_path, capsys):
    import h5py

    shard = next((run / "shards").glob("train-*.h5"))
    with h5py.File(shard, "r+") as f:
        f.attrs["schema_version"] = 1
    assert main(["export", "extxyz", str(run), str(tmp_path / "out")]) == 2
    _one_line_error(capsys, shard.name, "schema version 1, this dftgen reads")


def test_a_folder_that_is_no_dataset(tmp_path, capsys):
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir()
    assert main(["export", "parquet", str(tmp_path), str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "holds no dataset")
