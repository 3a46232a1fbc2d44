"""Pipeline pieces that need no cluster and no kernel: specs and the config hash, conformer
seeds, shape buckets and tasks, resume bookkeeping, status, worker environment, SLURM job
scripts and the command line."""

import argparse
import os
from pathlib import Path

import numpy as np
import pytest

from dftgen.data import shards
from dftgen.molecule import Molecule
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.cluster import expected_workers, slurm_cluster, worker_env
from dftgen.pipeline.commands import DEFAULT_SPEC, add_commands
from dftgen.pipeline.conformers import embed, molecule_seed
from dftgen.pipeline.failures import Failure
from dftgen.pipeline.ingest import MoleculeEntry, ingest, molecule_id
from dftgen.pipeline.plan import Plan, Task, bucket_of, make_plan
from dftgen.pipeline.precompile import program_shapes
from dftgen.pipeline.records import to_block
from dftgen.pipeline.resume import pending_tasks, scan
from dftgen.pipeline.sources import RawSmiles
from dftgen.pipeline.spec import SpecError
from dftgen.pipeline.status import format_status, run_status
from dftgen.presets import resolve

ROOT = Path(__file__).resolve().parents[1]


def entries(*smiles):
    raw = [RawSmiles(i, s, f"t:{i}") for i, s in enumerate(smiles)]
    return ingest(raw, spec_mod.FilterSection(heavy_atoms=(1, 9))).molecules


# -- specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "qm1b", "accurate", "scaling"])
def test_shipped_specs_load(name):
    spec = spec_mod.load(ROOT / "pipelines" / f"{name}.toml")
    assert spec.name == name
    assert len(spec.config_hash()) == 64


def test_qm1b_spec_has_qm1b_settings():
    spec = spec_mod.load(ROOT / "pipelines" / "qm1b.toml")
    s = spec.dft.settings
    assert (s.xc, s.basis, s.grid_level, s.precision, s.max_iter, s.diis_space) == (
        "b3lyp5", "sto-3g", 0, "float32", 20, 9)
    assert spec.filter.heavy_atoms == (9, 11) and spec.filter.max_hydrogens == 14
    assert spec.conformers.per_molecule == 1000 and spec.conformers.optimize is None
    assert spec.source.path == os.path.expanduser("~/data/gdb11")


def test_config_hash_follows_the_data_not_the_run_settings(tmp_path):
    base = spec_mod.from_dict({"name": "a"})
    assert base.config_hash() == spec_mod.from_dict({"name": "b", "run": {"workers": 7}}).config_hash()
    assert base.config_hash() == spec_mod.from_dict({"output": {"shard_mb": 64}}).config_hash()
    assert base.config_hash() != base.replace(filter={"limit": 3}).config_hash()
    assert base.config_hash() != base.replace(filter={"every": 3}).config_hash()
    assert "every" not in base.data_dict()["filter"]  # hashes of specs from before `every` hold
    assert base.config_hash() != spec_mod.from_dict({"dft": {"grid_level": 1}}).config_hash()
    assert base.config_hash() != spec_mod.from_dict({"seed": 1}).config_hash()
    assert base.run_dir(tmp_path) == tmp_path / f"a-{base.config_hash()[:12]}"


def test_dft_table_takes_settings_overrides():
    spec = spec_mod.from_dict({"dft": {"preset": "qm1b", "basis": "6-31g", "forces": True}})
    assert spec.dft.settings.basis == "6-31g" and spec.dft.settings.xc == "b3lyp5" and spec.dft.forces


@pytest.mark.parametrize("data, message", [
    ({"source": {"kind": "sdf"}}, "kind must be one of"),
    ({"source": {"kind": "smiles"}}, "needs a path"),
    ({"filter": {"heavy_atoms": [5, 2]}}, "heavy_atoms"),
    ({"conformers": {"optimize": "uff"}}, "optimize"),
    ({"dft": {"grid_level": 12}}, "grid_level"),
    ({"dft": {"preset": "fast"}}, "unknown preset"),
    ({"output": {"splits": {"train": 0.5}}}, "sum to 1"),
    ({"filter": {"max_h": 3}}, "unknown key"),
    ({"filter": {"elements": ["C", "Xx"]}}, "unsupported element 'Xx'"),
    ({"colour": "blue"}, "unknown key"),
])
def test_bad_specs_say_what_is_wrong(data, message):
    with pytest.raises(SpecError, match=message):
        spec_mod.from_dict(data)


def test_spec_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(SpecError, match="bad.toml"):
        spec_mod.load(bad)
    with pytest.raises(SpecError, match="does not exist"):
        spec_mod.load(tmp_path / "missing.toml")


def test_relative_source_path_is_taken_from_the_spec_folder(tmp_path):
    (tmp_path / "mols.smi").write_text("C\n")
    path = tmp_path / "s.toml"
    path.write_text('[source]\nkind = "smiles"\npath = "mols.smi"\n')
    assert spec_mod.load(path).source.path == str(tmp_path / "mols.smi")


# -- conformers -----------------------------------------------------------------------------


def test_conformer_seed_depends_on_molecule_and_global_seed_only():
    a = molecule_seed(0, molecule_id("CCO"))
    assert a == molecule_seed(0, molecule_id("CCO"))
    assert a != molecule_seed(1, molecule_id("CCO")) and a != molecule_seed(0, molecule_id("CO"))
    assert 0 <= a < 2**31 - 1


def test_embedding_reproduces_conformers_and_atom_order():
    ethanol = entries("OCC")[0]
    spec = spec_mod.ConformersSection(per_molecule=2)
    first, second = embed(ethanol, spec, 0), embed(ethanol, spec, 0)
    assert len(first) == 2
    assert tuple(first[0].numbers) == ethanol.numbers
    np.testing.assert_array_equal(first[1].positions, second[1].positions)
    direct = Molecule.conformers("CCO", 2, seed=molecule_seed(0, ethanol.id))
    np.testing.assert_array_equal(first[0].positions, direct[0].positions)


# -- plan -----------------------------------------------------------------------------------


def test_buckets_group_equal_shapes():
    water, methanol, ethanol, dme, nh3 = entries("O", "CO", "CCO", "COC", "N")
    assert bucket_of(ethanol, "sto-3g") == bucket_of(dme, "sto-3g")
    assert bucket_of(water, "sto-3g").key != bucket_of(nh3, "sto-3g").key
    b = bucket_of(methanol, "sto-3g")
    assert (b.n_heavy, b.n_hydrogens, b.nao) == (2, 4, 14)


def test_plan_cuts_buckets_into_tasks_of_whole_molecules(tmp_path):
    mols = entries("CCO", "COC", "O", "CC=O", "CCC", "C1CC1")
    spec = spec_mod.from_dict({"plan": {"task_conformers": 4}, "conformers": {"per_molecule": 2}})
    plan = make_plan(mols, spec, {"kept": 6})
    assert sorted(m.smiles for m in plan.molecules) == sorted(m.smiles for m in mols)
    for task in plan.tasks:
        assert len(task.molecules) <= 2
        assert {bucket_of(m, "sto-3g").key for m in task.molecules} == {task.bucket}
    ethanol_bucket = bucket_of(mols[0], "sto-3g").key  # CCO, COC, C1CC1: 3 molecules, 2 per task
    assert [t.id for t in plan.tasks if t.bucket == ethanol_bucket] == [
        f"{ethanol_bucket}-00000", f"{ethanol_bucket}-00001"]
    plan.save(tmp_path / "plan.json")
    back = Plan.load(tmp_path / "plan.json")
    assert back.tasks == plan.tasks and back.buckets == plan.buckets and back.config_hash == spec.config_hash()


def test_program_shapes_split_a_bucket_by_grid_size():
    """Methanol, hydrazine and ethylene share a bucket (2 heavy + 4 H, STO-3G), but N's atomic
    grid is smaller than C's and O's: two program shapes at the qm1b preset, one for
    Hartree-Fock (no grid); each shape lists its molecules in plan order."""
    mols = entries("CO", "NN", "C=C")
    plan = make_plan(mols, spec_mod.from_dict({"plan": {"task_conformers": 1}}), {"kept": 3})
    assert len(plan.buckets) == 1 and len(plan.tasks) == 3
    shapes = program_shapes(plan.tasks, resolve("qm1b"))
    assert [[m.smiles for m in s.molecules] for s in shapes] == [["CO"], ["NN"]]
    one = program_shapes([Task("t", plan.tasks[0].bucket, tuple(plan.molecules))], resolve("qm1b"))
    assert [[m.smiles for m in s.molecules] for s in one] == [["CO", "C=C"], ["NN"]]
    assert len(program_shapes(plan.tasks, resolve("qm1b", xc="hf"))) == 1


# -- resume and status ------------------------------------------------------------------------


def write_part(parts, name, done=(), failures=()):
    """A part file whose molecules `done` have one empty-result row each (resume reads ids)."""
    block = to_block([], list(failures), forces=False)
    block.molecules = {"id": np.array([m.id for m in done], np.int64),
                       "smiles": np.array([m.smiles for m in done], object),
                       "seed": np.zeros(len(done), np.int64),
                       "conformer_count": np.zeros(len(done), np.int32)}
    shards.write(parts / f"{name}.h5", block, {"task_id": name, "finished_unix": 1000.0 + len(name)})


def test_pending_tasks_skip_finished_molecules_and_rename_partial_tasks(tmp_path):
    mols = entries("CCO", "COC", "CC=O", "OCO")  # two buckets, two molecules each
    spec = spec_mod.from_dict({"plan": {"task_conformers": 2}})
    plan = make_plan(mols, spec, {})
    assert [len(t.molecules) for t in plan.tasks] == [2, 2]
    t0, t1 = plan.tasks
    parts = tmp_path / "parts"
    parts.mkdir()
    assert pending_tasks(plan, scan(parts)) == plan.tasks
    # t0 bisected: its first half finished; t1's first molecule failed retryably in t1's part
    write_part(parts, f"{t0.id}.0", done=[t0.molecules[0]])
    retry = Failure.of_molecule(t1.molecules[0].id, "x", "task", "OSError", "disk", retryable=True)
    write_part(parts, t1.id, done=[t1.molecules[1]], failures=[retry])
    pending = pending_tasks(plan, scan(parts))
    assert [p.molecules for p in pending] == [(t0.molecules[1],), (t1.molecules[0],)]
    assert pending[0].id.startswith(f"{t0.id}~") and pending[1].id.startswith(f"{t1.id}~")
    assert pending[0].id != pending[1].id
    # a final failure finishes a molecule
    final = Failure.of_molecule(t0.molecules[1].id, "x", "worker", "KilledWorker", "boom")
    write_part(parts, pending[0].id, failures=[final])
    assert [p.molecules for p in pending_tasks(plan, scan(parts))] == [(t1.molecules[0],)]


def test_status_counts_states_buckets_and_failures(tmp_path):
    mols = entries("CCO", "COC", "CC=O", "OCO")
    spec = spec_mod.from_dict({"plan": {"task_conformers": 2}})
    plan = make_plan(mols, spec, {"read": 5, "kept": 4, "parse_failed": 1})
    plan.save(tmp_path / "plan.json")
    parts = tmp_path / "parts"
    parts.mkdir()
    t0, t1 = plan.tasks
    write_part(parts, "ingest", failures=[Failure.of_molecule(1, "C1CC", "parse", "SmilesError", "bad")])
    write_part(parts, t0.id, done=t0.molecules)
    embed_failure = Failure.of_molecule(t1.molecules[0].id, "x", "embed", "EmbeddingError", "no conformer")
    write_part(parts, t1.id + ".0", failures=[embed_failure])
    status = run_status(tmp_path)
    assert (status.molecules, status.done, status.failed, status.pending) == (4, 2, 1, 1)
    assert status.failures_by_stage == {"parse": 1, "embed": 1}
    assert status.buckets[t0.bucket].done == 2 and status.buckets[t1.bucket].pending == 1
    text = format_status(status)
    assert "2 done, 1 failed, 1 pending" in text and "embed 1" in text and t1.bucket in text
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        run_status(parts)


# -- cluster and command line -----------------------------------------------------------------


def test_worker_environment_limits_threads_and_sets_the_cache(tmp_path):
    env = worker_env("cpu", cache_dir=tmp_path / "cache")
    assert env["XLA_FLAGS"].split() == ["--xla_cpu_multi_thread_eigen=false",
                                        "--xla_cpu_prefer_vector_width=512"]
    assert env["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "cache") and (tmp_path / "cache").is_dir()
    assert env["JAX_PLATFORMS"] == "cpu" and env["OMP_NUM_THREADS"] == "1"
    with pytest.raises(ValueError, match="device"):
        worker_env("tpu", cache_dir=tmp_path)


def test_slurm_job_script_renders_from_the_shipped_config(tmp_path):
    cluster = slurm_cluster(log_directory=str(tmp_path / "logs"))  # jobqueue creates the folder
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -J dftgen-worker" in script
    assert "--cpus-per-task=32" in script and "--nworkers 32" in script and "--nthreads 1" in script
    assert 'export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false"' in script
    assert "JAX_COMPILATION_CACHE_DIR" in script
    assert "--lifetime 230m" in script and "--lifetime-stagger 10m" in script


def test_window_is_sized_for_the_workers_a_cluster_will_have():
    assert expected_workers("local", workers=3) == 3
    assert expected_workers("slurm", jobs=4) == 4 * 32  # 32 processes per job in jobqueue.yaml


def test_commands_parse():
    parser = argparse.ArgumentParser(prog="dftgen")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", "--workers", "2", "--limit", "5", "--device", "cpu"])
    assert (args.spec, args.workers, args.limit, args.out, args.cluster) == (None, 2, 5, "datasets", "local")
    args = parser.parse_args(["export", "parquet", "run", "out", "--all"])
    assert (args.format, args.run_dir, args.out, args.all) == ("parquet", "run", "out", True)
    assert parser.parse_args(["status", "run"]).run_dir == "run"
    assert DEFAULT_SPEC.is_file()
