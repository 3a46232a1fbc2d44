"""A trained DFT-loss network as the SCF's initial guess (`run_dft(..., guess=MODEL_DIR)`,
`dftgen run --guess`, `[dft] guess` in pipeline specs): the SCF starts from the network's
density and converges to the same energy as from minao, in fewer iterations."""

import json

import numpy as np
import pytest

from dftgen import Molecule, run_dft
from dftgen.cli import main
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.runner import run_config
from dftgen.scf import assemble, setup
from dftgen.train.dftloss import guess as guess_mod
from dftgen.train.dftloss.features import featurise
from dftgen.train.dftloss.spec import from_dict
from dftgen.train.dftloss.train import fit, new_model, route_loss, save

SPEC = {
    "dft": {"preset": "qm1b", "precision": "float64"},
    "data": {"train": ["O"], "test": ["F"], "conformers": 4},
    "model": {"width": 16, "n_rbf": 8, "scf_steps": 2},
    "training": {"steps": 40, "batch_size": 4, "lr": 3e-3, "eval_every": 40},
}
CONVERGE = {"precision": "float64", "mode": "converge"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    spec = from_dict(SPEC)
    samples = [featurise(m, spec.settings) for m in Molecule.conformers("O", 4, seed=3)]
    model, _ = fit(new_model(spec), samples, route_loss(spec), spec.training)
    out = tmp_path_factory.mktemp("models") / "water"
    save(model, spec, out)
    return out


@pytest.fixture(scope="module")
def water():
    return Molecule.conformers("O", 1, seed=11)[0]  # a conformer the network did not see


def test_the_scf_starts_from_the_networks_density_and_reaches_the_same_energy(model_dir, water):
    from_minao = run_dft(water, "qm1b", **CONVERGE)
    from_network = run_dft(water, "qm1b", guess=model_dir, **CONVERGE)
    print(f"iterations from minao {from_minao.iterations}, from the network {from_network.iterations}")
    assert from_network.converged and abs(from_network.energy_ha - from_minao.energy_ha) < 1e-8
    assert from_network.iterations < from_minao.iterations
    settings = from_minao.settings
    model_guess = guess_mod.load(str(model_dir))
    problem = model_guess.build(setup(water, settings), settings)
    dm0 = np.asarray(problem.work.dm0)
    minao = np.asarray(assemble(setup(water, settings), settings).work.dm0)
    assert np.trace(dm0 @ np.asarray(problem.work.s)) == pytest.approx(10.0, abs=1e-10)
    assert np.abs(dm0 - minao).max() > 1e-3


def test_the_cli_takes_a_guess(model_dir, water, capsys, tmp_path):
    xyz = tmp_path / "water.xyz"
    xyz.write_text(water.to_xyz())
    assert main(["run", "--xyz", str(xyz), "--mode", "converge", "--precision", "float64",
                 "--guess", str(model_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converged"]


def test_a_guess_refuses_another_basis_a_device_and_a_missing_model(model_dir, water, tmp_path):
    with pytest.raises(ValueError, match="trained in the sto-3g basis"):
        run_dft(water, "qm1b", basis="6-31g", guess=model_dir)
    with pytest.raises(ValueError, match="default backend"):
        run_dft(water, "qm1b", guess=model_dir, device="cpu")
    with pytest.raises(FileNotFoundError, match="no DFT-loss model"):
        run_dft(water, "qm1b", guess=tmp_path / "nothing")


def test_a_pipeline_spec_takes_a_guess_relative_to_itself(model_dir, tmp_path):
    path = model_dir.parent / "spec.toml"
    path.write_text('[dft]\npreset = "qm1b"\nguess = "water"\n')
    spec = spec_mod.load(path)
    assert spec.dft.guess == str(model_dir.resolve())
    plain = spec_mod.from_dict({})
    assert "guess" not in plain.data_dict()["dft"] and spec.config_hash() != plain.config_hash()
    assert run_config(spec, tmp_path).guess == spec.dft.guess
    with pytest.raises(FileNotFoundError, match="no DFT-loss model"):
        run_config(spec.replace(dft={"guess": str(tmp_path)}), tmp_path)


def test_a_pipeline_task_starts_from_the_network(model_dir, tmp_path):
    from dftgen.data import shards
    from dftgen.pipeline.ingest import MoleculeEntry, molecule_id
    from dftgen.pipeline.plan import Task
    from dftgen.pipeline.spec import ConformersSection
    from dftgen.pipeline.tasks import TaskConfig, part_path, run_task
    from dftgen.presets import resolve

    task = Task("t", "b", (MoleculeEntry(molecule_id("O"), "O", (8, 1, 1)),))
    blocks = {}
    for name, guess in (("minao", None), ("network", str(model_dir))):
        (tmp_path / name).mkdir()
        config = TaskConfig(seed=0, conformers=ConformersSection(per_molecule=2), forces=False,
                            settings=resolve("qm1b", **CONVERGE), batch_size=1,
                            parts_dir=str(tmp_path / name), config_hash="test", guess=guess)
        assert run_task(task, config).conformers == 2
        blocks[name] = shards.read(part_path(tmp_path / name, "t"))[0].conformers
    np.testing.assert_allclose(blocks["network"]["energy_ev"], blocks["minao"]["energy_ev"], rtol=0, atol=1e-6)
    assert np.all(blocks["network"]["iterations"] < blocks["minao"]["iterations"])
