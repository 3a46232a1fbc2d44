"""One split rule: a molecule lands in the same split in the pipeline and in both trainers,
whether a trainer reads the run directory or a single file of it; the shared default decides
only where a dataset records no fractions or its own leave a trainer without a split."""

import json

import numpy as np
import pytest

from dftgen.data import open_dataset, shards
from dftgen.data.splits import DEFAULT_SPLITS, assign, recorded_splits, split_of
from dftgen.pipeline import synthetic
from dftgen.pipeline.ingest import molecule_id
from dftgen.pipeline.spec import PipelineSpec
from dftgen.train.dftloss import molecules
from dftgen.train.dftloss.spec import DataSection

SPLITS = (("train", 0.5), ("val", 0.25), ("test", 0.25))  # far from the default: a fallback shows


def test_splits_depend_only_on_the_molecule_id():
    ids = np.array([0, 2**59, 2**60 - 1, 5 * 2**57])  # u = 0, 0.5, ~1, 0.625
    assert list(split_of(ids, SPLITS)) == ["train", "val", "test", "val"]
    many = split_of(np.array([molecule_id(str(i)) for i in range(4000)]), SPLITS)
    assert abs(np.mean(many == "train") - 0.5) < 0.05


def test_the_pipeline_default_is_the_shared_default():
    assert PipelineSpec().output.splits == DEFAULT_SPLITS


def test_files_record_their_spec_fractions(tmp_path):
    spec = PipelineSpec().replace(output={"splits": (("train", 0.98), ("val", 0.02))})
    shards.write(tmp_path / "f.h5", shards.Block.empty(), {"spec": json.loads(spec.to_json())})
    assert recorded_splits(shards.read(tmp_path / "f.h5")[1]) == (("train", 0.98), ("val", 0.02))
    assert recorded_splits({}) is None


def test_assign_uses_recorded_fractions_then_the_default():
    ids = np.array([molecule_id(str(i)) for i in range(400)])
    recorded = {"spec": {"output": {"splits": [list(s) for s in SPLITS]}}}
    masks = assign(ids, recorded, needed=("train", "val"))
    assert {k: list(v) for k, v in masks.items()} == {n: list(split_of(ids, SPLITS) == n) for n, _ in SPLITS}
    default = {n: list(split_of(ids) == n) for n, _ in DEFAULT_SPLITS}
    assert {k: list(v) for k, v in assign(ids, {}).items()} == default
    train_only = {"spec": {"output": {"splits": [["train", 1.0]]}}}
    assert {k: list(v) for k, v in assign(ids, train_only).items()} == default
    no_val = {"spec": {"output": {"splits": [["train", 0.9], ["test", 0.1]]}}}
    assert {k: list(v) for k, v in assign(ids, no_val, needed=("train", "val")).items()} == default


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return synthetic.write_run(tmp_path_factory.mktemp("run"), molecules=40, conformers=1,
                               parts=2, splits=SPLITS, heavy_atoms=(1, 4))


def _pipeline_split(run_dir) -> dict[int, str]:
    """Each molecule id's split as the pipeline's compaction assigned it."""
    with open_dataset(run_dir) as ds:
        return {int(i): name for name in ds.split_names for i in ds.split(name).molecule_ids}


def _sources(run_dir):
    return [run_dir, *sorted((run_dir / "parts").glob("part-*.h5"))]


def test_dftloss_puts_each_molecule_where_the_pipeline_did(run_dir):
    pipeline = _pipeline_split(run_dir)
    for source in _sources(run_dir):
        entries = molecules.load(DataSection(dataset=str(source)))
        for split in ("train", "test"):
            smiles = {e.mol.name.split(" #")[0] for e in entries[split]}
            assert smiles and {pipeline[molecule_id(s)] for s in smiles} == {split}


def test_schnet_puts_each_molecule_where_the_pipeline_did(run_dir):
    pytest.importorskip("schnetpack")
    from dftgen.train.schnet.data import load_splits
    from dftgen.train.schnet.spec import TARGETS

    pipeline = _pipeline_split(run_dir)
    for source in _sources(run_dir):
        splits = load_splits(source, [TARGETS["gap"]])
        assert len(splits["train"]) and len(splits["val"])
        for name, index in splits.items():
            assert {pipeline[int(i)] for i in index.molecule_id} == {name}
