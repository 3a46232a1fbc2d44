"""The driver's fault handling on a real LocalCluster, with small stand-in task functions
that skip the kernel (the real pipeline, always `run_task`, is tested end to end in
test_pipeline_e2e.py): a molecule that kills workers is isolated by bisection, a task that
raises becomes a retryable failure, and a rerun finishes exactly the unfinished molecules."""

import os
import time

import numpy as np
import pytest

from dftgen.data import open_dataset, shards
from dftgen.data.splits import recorded_splits
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.records import MoleculeResult, to_block
from dftgen.pipeline.runner import generate
from dftgen.pipeline.tasks import TaskSummary, part_path

SMILES = ["CCO", "COC", "C1CC1", "CC=O", "CCC", "OCO", "NC=O", "CC#N"]
POISON = "C1CC1"
RAISES = "CC#N"


def bookkeeping_task(task, config):
    """Writes a part with each molecule as computed (no conformers); kills its worker on
    POISON and raises on RAISES."""
    smiles = [m.smiles for m in task.molecules]
    if POISON in smiles:
        os._exit(1)
    if RAISES in smiles and os.environ.get("DFTGEN_TEST_RAISE") == "1":
        raise OSError(f"simulated transient error in task {task.id}")
    time.sleep(0.05)
    done = [MoleculeResult(m, 0, [], []) for m in task.molecules]
    shards.write(part_path(config.parts_dir, task.id), to_block(done, [], forces=False),
                 {"task_id": task.id, "bucket": task.bucket, "finished_unix": time.time()})
    return TaskSummary(task.id, task.bucket, len(done), 0, 0, 0, 0.05, 0.0)


@pytest.fixture()
def spec(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("\n".join(SMILES) + "\n")
    return spec_mod.from_dict({
        "name": "driver-test",
        "source": {"kind": "smiles", "path": str(path)},
        "filter": {"heavy_atoms": [1, 9]},
        "plan": {"task_conformers": 8},
        "run": {"retries": 0, "allowed_failures": 0, "precompile": False},  # no kernel here
        "output": {"splits": {"train": 1.0}},
    })


def computed_smiles(run_dir):
    ds = open_dataset(run_dir)
    return sorted(str(s) for s in ds.split("train")._shard(ds._files[0]).smiles) if ds._files else []


def test_poisonous_molecule_is_isolated_and_reruns_add_nothing(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("DFTGEN_TEST_RAISE", "0")
    report = generate(spec, tmp_path / "out", workers=2, progress=False, log=lambda s: None,
                      task_fn=bookkeeping_task)
    failures = open_dataset(report.run_dir).failures
    assert list(failures["smiles"]) == [POISON] and list(failures["stage"]) == ["worker"]
    assert not failures["retryable"][0]
    assert computed_smiles(report.run_dir) == sorted(s for s in SMILES if s != POISON)
    assert report.molecules_done == len(SMILES) - 1
    # the shards record the split fractions, so a trainer splits any one file as the run did
    assert recorded_splits(open_dataset(report.run_dir).attrs) == spec.output.splits
    again = generate(spec, tmp_path / "out", workers=2, progress=False, log=lambda s: None,
                     task_fn=bookkeeping_task)
    assert again.tasks_run == 0 and again.molecules_done == len(SMILES) - 1


def test_raising_task_is_retryable_and_a_rerun_finishes_it(spec, tmp_path, monkeypatch):
    spec = spec.replace(source={"path": spec.source.path.replace("mols", "clean")})
    (tmp_path / "clean.smi").write_text("\n".join(s for s in SMILES if s != POISON) + "\n")
    monkeypatch.setenv("DFTGEN_TEST_RAISE", "1")
    first = generate(spec, tmp_path / "out", workers=1, progress=False, log=lambda s: None,
                     task_fn=bookkeeping_task)
    failures = open_dataset(first.run_dir).failures
    assert set(failures["stage"]) == {"task"} and all(failures["retryable"])
    assert RAISES in set(failures["smiles"])
    done_before = set(computed_smiles(first.run_dir))
    assert RAISES not in done_before
    monkeypatch.setenv("DFTGEN_TEST_RAISE", "0")
    second = generate(spec, tmp_path / "out", workers=1, progress=False, log=lambda s: None,
                      task_fn=bookkeeping_task)
    assert second.run_dir == first.run_dir
    # only the molecules of the failed task ran again; every molecule is there once
    assert second.tasks_run >= 1
    assert computed_smiles(second.run_dir) == sorted(s for s in SMILES if s != POISON)
    ids = open_dataset(second.run_dir).molecule_ids
    assert len(ids) == len(np.unique(ids))
    assert len(open_dataset(second.run_dir).failures["molecule_id"]) == 0
