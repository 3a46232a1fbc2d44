"""DFT-relaxed conformers: `relax` alone, and `[conformers] optimize = "dft"` in a pipeline
task, whose shards carry the steps and the force left, and whose failures to converge are
failure rows. Hartree-Fock/STO-3G water (no grid, so forces are exact gradients)."""

import numpy as np
import pytest

from dftgen import Molecule
from dftgen.data import shards
from dftgen.elements import BOHR_ANGSTROM
from dftgen.pipeline.ingest import MoleculeEntry, molecule_id
from dftgen.pipeline.plan import Task
from dftgen.pipeline.spec import ConformersSection
from dftgen.pipeline.tasks import TaskConfig, part_path, run_task
from dftgen.presets import resolve
from dftgen.relax import RelaxationError, relax

HF = resolve("qm1b", xc="hf", mode="converge", precision="float64", conv_tol=1e-10,
             conv_tol_grad=1e-6, max_iter=100)


def test_relax_lowers_the_energy_to_below_the_force_threshold():
    from dftgen import run_dft

    start = Molecule.from_smiles("O", seed=0)
    relaxed = relax(start, HF, max_steps=100, fmax_ev_ang=1e-3)
    assert 0 < relaxed.steps <= 100 and relaxed.max_force_ev_ang < 1e-3
    assert run_dft(relaxed.mol, HF).energy_ha < run_dft(start, HF).energy_ha
    with pytest.raises(RelaxationError, match=r"after 1 steps \(threshold 1e-06"):
        relax(start, HF, max_steps=1, fmax_ev_ang=1e-6)


def _task_config(tmp_path, **conformers):
    return TaskConfig(seed=0, conformers=ConformersSection(per_molecule=2, optimize="dft", **conformers),
                      settings=HF, forces=True, batch_size=2, parts_dir=str(tmp_path),
                      config_hash="test")


def _water_task(name):
    entry = MoleculeEntry(molecule_id("O"), "O", (8, 1, 1))
    return Task(name, "b", (entry,))


def test_a_relaxing_task_records_steps_and_forces_left(tmp_path):
    config = _task_config(tmp_path, max_steps=100, fmax_ev_ang=1e-3)
    summary = run_task(_water_task("t"), config)
    assert summary.conformers == 2 and summary.failures == 0
    block, _ = shards.read(part_path(tmp_path, "t"))
    conformers = block.conformers
    assert np.all(conformers["relax_steps"] > 0)
    assert np.all(conformers["relax_max_force_ev_ang"] < 1e-3)
    # the labels are computed at the relaxed geometries: forces below the threshold
    forces_ev_ang = block.atoms["forces_ev_bohr"] / BOHR_ANGSTROM
    assert np.linalg.norm(forces_ev_ang, axis=1).max() < 1e-3


def test_a_relaxation_that_does_not_converge_is_a_failure_row(tmp_path):
    config = _task_config(tmp_path, max_steps=1, fmax_ev_ang=1e-6)
    summary = run_task(_water_task("u"), config)
    assert summary.conformers == 0 and summary.failures == 1
    failures = shards.read(part_path(tmp_path, "u"))[0].failures
    assert list(failures["stage"]) == ["relax"] and list(failures["error"]) == ["RelaxationError"]
    assert not failures["retryable"][0]
