"""The real pipeline end to end on tiny molecules, with the real kernel: bad inputs land in
the failure table with their stage, values in shards and Parquet equal `run_dft` on the
same conformers, and runs survive a killed worker and a killed driver."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dftgen.compilation_cache import Programs
from dftgen.data import open_dataset
from dftgen.data.export import to_parquet
from dftgen.data.splits import recorded_splits
from dftgen.elements import HARTREE_EV
from dftgen.molecule import Molecule
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.cluster import connect, worker_env
from dftgen.pipeline.conformers import molecule_seed
from dftgen.pipeline.ingest import molecule_id
from dftgen.pipeline.precompile import compile_text
from dftgen.pipeline.runner import generate

ROOT = Path(__file__).resolve().parents[1]
VALID = ["O", "N", "C"]  # water, ammonia, methane: three buckets of 7-9 orbitals
BAD = {  # SMILES -> (stage, error)
    "C1CC": ("parse", "SmilesError"),
    "[SiH4]": ("ingest", "UnsupportedElement"),
    "[NH4+]": ("ingest", "ChargedMolecule"),
    "C1#CC1": ("embed", "EmbeddingError"),  # cyclopropyne: ETKDG cannot embed it
}
# The pipeline calls run_dft_batch one conformer at a time (batch_size 1), the same program
# as run_dft; measured differences between vmapped batches and single runs were 2e-11 Ha.
ENERGY_TOL_EV = 1e-9 * HARTREE_EV


def smiles_spec(tmp_path, smiles, **sections):
    path = tmp_path / "mols.smi"
    path.write_text("\n".join(smiles) + "\n")
    data = {"name": "e2e", "source": {"kind": "smiles", "path": str(path)},
            "filter": {"heavy_atoms": [1, 9]}, "conformers": {"per_molecule": 2},
            "plan": {"task_conformers": 2}, "output": {"splits": {"train": 1.0}}}
    for name, table in sections.items():
        data[name] = {**data.get(name, {}), **table}
    return spec_mod.from_dict(data)


def assert_each_valid_molecule_once(run_dir, smiles):
    ds = open_dataset(run_dir)
    ids = ds.molecule_ids
    assert sorted(ids) == sorted(molecule_id(s) for s in smiles)
    assert len(ds) == 2 * len(smiles)
    return ds


def test_bad_inputs_are_failures_and_values_equal_run_dft(tmp_path):
    from dftgen import run_dft

    spec = smiles_spec(tmp_path, VALID[:2] + list(BAD))
    report = generate(spec, tmp_path / "out", workers=1, progress=False, log=lambda s: None)
    ds = assert_each_valid_molecule_once(report.run_dir, VALID[:2])
    failures = ds.failures
    got = {s: (stage, err) for s, stage, err in zip(failures["smiles"], failures["stage"], failures["error"])}
    assert got == BAD
    assert ds.attrs["settings"]["xc"] == "b3lyp5" and ds.attrs["config_hash"] == spec.config_hash()
    parts = sorted((report.run_dir / "parts").glob("*.h5"))  # ingest's and the tasks'
    assert len(parts) > 1 and all(recorded_splits(open_dataset(p).attrs) == spec.output.splits
                                  for p in parts)  # any one file splits as the run did

    rows = to_parquet(ds, tmp_path / "parquet", include_unconverged=True)
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "parquet" / "train.parquet").to_pylist()
    assert rows == {"train": len(ds)}
    for smiles in VALID[:2]:
        seed = molecule_seed(spec.seed, molecule_id(smiles))
        for k, mol in enumerate(Molecule.conformers(smiles, 2, seed=seed)):
            ref = run_dft(mol, "qm1b")
            row = next(ds[i] for i in range(len(ds)) if ds[i]["smiles"] == smiles and ds[i]["conformer"] == k)
            np.testing.assert_array_equal(row["positions_bohr"], mol.positions)
            assert abs(row["energy_ev"] - ref.energy_ha * HARTREE_EV) <= ENERGY_TOL_EV
            assert abs(row["gap_ev"] - ref.gap_ev) <= ENERGY_TOL_EV
            assert abs(row["homo_ev"] - ref.homo_ha * HARTREE_EV) <= ENERGY_TOL_EV
            assert row["nao"] == ref.nao and row["converged"] == ref.converged
            exported = next(r for r in table if r["energy"] == row["energy_ev"])
            assert (exported["smile"], exported["y"], exported["homo"], exported["lumo"]) == (
                smiles, row["gap_ev"], row["homo_ev"], row["lumo_ev"])
            np.testing.assert_array_equal(np.reshape(exported["pos"], (-1, 3)), mol.positions)


def test_the_compile_phase_runs_first_and_a_second_run_compiles_nothing(tmp_path):
    """Before the first task, the bucket's programs are compiled (or read from the cache, as
    other tests may have written them), and the tasks then compile nothing; a second run of
    the same spec into a fresh folder reads every program back; a finished run has no phase."""
    spec = smiles_spec(tmp_path, VALID[:1], conformers={"per_molecule": 1})
    lines = []
    first = generate(spec, tmp_path / "first", workers=1, progress=False, log=lines.append)
    assert (first.compile.buckets, first.compile.shapes) == (1, 1) and first.compile.programs.total > 0
    assert first.task_programs.compiled == 0 and first.compile_seconds > 0
    assert lines.index(compile_text(first.compile)) < len(lines) - 1  # before the run's summary
    assert "compile phase:" in lines[-1]
    second = generate(spec, tmp_path / "second", workers=1, progress=False, log=lambda s: None)
    assert second.compile.programs == Programs(0, first.compile.programs.total)
    assert second.task_programs.compiled == 0
    finished = generate(spec, tmp_path / "second", workers=1, progress=False, log=lambda s: None)
    assert finished.compile is None and finished.tasks_run == 0


@pytest.mark.slow
def test_a_cold_cache_compiles_once_for_two_runs(tmp_path, monkeypatch):
    """With an empty cache the compile phase compiles two buckets on two workers and the tasks
    compile nothing; a second run into a fresh folder compiles nothing at all."""
    monkeypatch.setenv("DFTGEN_JAX_CACHE", str(tmp_path / "jax"))
    spec = smiles_spec(tmp_path, ["O", "C"], conformers={"per_molecule": 1})
    first = generate(spec, tmp_path / "first", workers=2, progress=False, log=lambda s: None)
    assert first.compile.shapes == 2 and first.compile.programs.compiled > 0
    assert first.task_programs.compiled == 0 and not first.compile.failed
    second = generate(spec, tmp_path / "second", workers=2, progress=False, log=lambda s: None)
    assert second.compile.programs.compiled == 0 and second.compile.programs.from_cache > 0
    assert second.task_programs.compiled == 0


@pytest.mark.slow
def test_run_completes_when_a_worker_is_killed(tmp_path):
    spec = smiles_spec(tmp_path, VALID)
    parts = spec.run_dir(tmp_path / "out") / "parts"
    with connect("local", workers=2, env=worker_env("cpu")) as client:
        pids = list(client.run(os.getpid).values())
        killed = []

        def kill_one_worker_after_the_first_part():
            while not [p for p in parts.glob("*.h5") if p.stem != "ingest"]:
                time.sleep(0.1)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

        killer = threading.Thread(target=kill_one_worker_after_the_first_part, daemon=True)
        killer.start()
        report = generate(spec, tmp_path / "out", address=client.scheduler.address, progress=False,
                          log=lambda s: None)
        killer.join(timeout=5)
    assert killed, "no worker was killed: the run ended before the first part appeared"
    assert_each_valid_molecule_once(report.run_dir, VALID)
    assert len(open_dataset(report.run_dir).failures["molecule_id"]) == 0


DRIVER = """
import sys
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.runner import generate
generate(spec_mod.load(sys.argv[1]), sys.argv[2], workers=1, progress=False)
"""


@pytest.mark.slow
def test_killed_driver_resumes_without_recomputing(tmp_path):
    spec_file = tmp_path / "e2e.toml"
    (tmp_path / "mols.smi").write_text("\n".join(VALID) + "\n")
    spec_file.write_text('name = "e2e"\n[source]\nkind = "smiles"\npath = "mols.smi"\n'
                         '[filter]\nheavy_atoms = [1, 9]\n[conformers]\nper_molecule = 2\n'
                         '[plan]\ntask_conformers = 2\n[output]\nsplits = { train = 1.0 }\n')
    spec = spec_mod.load(spec_file)
    out = tmp_path / "out"
    parts = spec.run_dir(out) / "parts"
    command = [sys.executable, "-c", DRIVER, str(spec_file), str(out)]
    driver = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not [p for p in parts.glob("*.h5") if p.stem != "ingest"] and time.time() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the workers it started
        driver.wait()
    first = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.h5") if p.stem != "ingest"}
    assert 1 <= len(first) < len(VALID), "the driver was not killed in the middle of the run"
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for name, mtime in first.items():  # finished parts were neither recomputed nor rewritten
        assert (parts / name).stat().st_mtime_ns == mtime
    assert f"this run: {len(VALID) - len(first)} tasks" in result.stdout
    assert_each_valid_molecule_once(spec.run_dir(out), VALID)
