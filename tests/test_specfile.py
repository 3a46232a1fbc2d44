"""One rule for every spec file: an unknown key, a bad value, a bad table, a missing file or
broken TOML is one SpecError naming the file, the table and the key, for pipeline and model
specs alike; a [dft] table means the same settings in each."""

import pytest

from dftgen.pipeline import spec as pipeline_spec
from dftgen.specfile import SpecError
from dftgen.train.dftloss import spec as dftloss_spec
from dftgen.train.schnet import spec as schnet_spec

LOADERS = [(pipeline_spec.load, "[run]"), (schnet_spec.load, "[training]"),
           (dftloss_spec.load, "[training]")]
VALID = {dftloss_spec.load: '[data]\ndataset = "d"\n'}  # tables a spec cannot do without


@pytest.mark.parametrize("load, table", LOADERS)
def test_unknown_key_names_file_table_and_key(tmp_path, load, table):
    path = tmp_path / "s.toml"
    path.write_text(f'name = "x"\n{VALID.get(load, "")}{table}\nspeling = 1\n')
    with pytest.raises(SpecError, match=rf"s\.toml.*unknown key\(s\) in \{table}: \['speling'\]"):
        load(path)


@pytest.mark.parametrize("load, _", LOADERS)
def test_missing_file_and_broken_toml_name_the_file(tmp_path, load, _):
    with pytest.raises(SpecError, match=r"nothere\.toml' does not exist"):
        load(tmp_path / "nothere.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(SpecError, match=r"broken\.toml"):
        load(broken)


@pytest.mark.parametrize("load, _", LOADERS)
def test_a_table_that_is_not_a_table(tmp_path, load, _):
    path = tmp_path / "t.toml"
    text = 'run = 3\n' if load is pipeline_spec.load else 'name = "x"\ntraining = 3\n'
    path.write_text(text + VALID.get(load, ""))
    with pytest.raises(SpecError, match=r"must be a table"):
        load(path)


@pytest.mark.parametrize("load, table, text, key", [
    (pipeline_spec.load, "dft", "grid_level = 12", "grid_level"),
    (schnet_spec.load, "training", 'loss = "huber"', "loss"),
    (dftloss_spec.load, "model", "width = 0", "width"),
    (dftloss_spec.load, "dft", 'preset = "fast"', "unknown preset"),
])
def test_a_bad_value_names_file_table_and_key(tmp_path, load, table, text, key):
    path = tmp_path / "v.toml"
    path.write_text(f'name = "x"\n{VALID.get(load, "")}[{table}]\n{text}\n')
    with pytest.raises(SpecError, match=rf"v\.toml.*\[{table}\] .*{key}"):
        load(path)


def test_a_dft_table_means_the_same_in_every_spec():
    table = {"preset": "accurate", "basis": "sto-3g", "precision": "float32"}
    pipeline = pipeline_spec.from_dict({"dft": table})
    dftloss = dftloss_spec.from_dict({"dft": table, "data": {"dataset": "d"}})
    assert pipeline.dft.settings == dftloss.settings
    assert pipeline.dft.settings.xc == "b3lyp" and pipeline.dft.settings.basis == "sto-3g"
    for from_dict, extra in ((pipeline_spec.from_dict, {}),
                             (dftloss_spec.from_dict, {"data": {"dataset": "d"}})):
        with pytest.raises(SpecError, match=r"unknown key\(s\) in \[dft\]: \['colour'\]"):
            from_dict({"dft": {"colour": "blue"}, **extra})


def test_a_saved_dftloss_spec_reads_back_the_same():
    spec = dftloss_spec.from_dict({"dft": {"precision": "float64"}, "data": {"dataset": "d"},
                                   "training": {"steps": 7}})
    assert dftloss_spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["dft"] == {"preset": "qm1b", "precision": "float64"}
