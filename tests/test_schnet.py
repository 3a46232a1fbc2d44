"""SchNet on dftgen shards: the schnetpack dataset adapter, molecule splits, offsets,
training against the mean-predictor baseline, exact reloads, the scaling experiment and the
CLI, on synthetic shards (real RDKit conformers, labels from a smooth function of geometry,
dftgen.pipeline.synthetic). Real generated shards: test_schnet_e2e.py."""

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
spk = pytest.importorskip("schnetpack")

from schnetpack import properties as P  # noqa: E402
from schnetpack.data.loader import AtomsLoader  # noqa: E402

from dftgen import Molecule  # noqa: E402
from dftgen.data import open_dataset  # noqa: E402
from dftgen.train import MODELS_DIR, add_train_parser  # noqa: E402
from dftgen.pipeline import synthetic  # noqa: E402
from dftgen.train.schnet import commands  # noqa: E402
from dftgen.train.schnet import spec as spec_mod  # noqa: E402
from dftgen.train.schnet.data import Offsets, ShardConformers, fit_offsets, load_splits, molecule_subset  # noqa: E402
from dftgen.train.schnet.evaluation import Trained  # noqa: E402
from dftgen.train.schnet.model import build_model, postprocessing, preprocessing  # noqa: E402
from dftgen.train.schnet.scaling import power_law_fit, qm1b_gap_fit, scaling  # noqa: E402
from dftgen.train.schnet.training import train  # noqa: E402

TINY = spec_mod.from_dict({
    "name": "tiny", "targets": ["gap", "energy"],
    "model": {"n_atom_basis": 32, "n_filters": 32, "n_interactions": 2, "n_rbf": 16, "cutoff_bohr": 8.0},
    "data": {"batch_size": 16},
    "training": {"lr": 5e-3, "warmup_steps": 20, "max_epochs": 15},
})


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: tiny tensors on a shared 2-core machine run far faster unthreaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return synthetic.write_run(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def splits(run_dir):
    return load_splits(run_dir, TINY.target_specs)


@pytest.fixture(scope="module")
def trained(splits, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "tiny"
    return out, train(TINY, splits, out, source="synthetic", progress=False)


def test_splits_are_by_molecule(run_dir, splits):
    ids = {name: set(index.molecule_id.tolist()) for name, index in splits.items()}
    assert ids["train"] and ids["val"] and ids["test"]
    assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
    assert sum(len(index) for index in splits.values()) == len(open_dataset(run_dir))
    # a single shard without the pipeline's index is split here, also by molecule
    shard = next((run_dir / "shards").glob("train-*.h5"))
    own = load_splits(shard, TINY.target_specs)
    seen = [set(index.molecule_id.tolist()) for index in own.values()]
    assert sum(len(s) for s in seen) == len(set().union(*seen)) > 0
    # growing training subsets are nested and made of whole shuffled molecules
    small, large = (molecule_subset(splits["train"], n) for n in (10, 40))
    assert np.array_equal(large.atom_start[:10], small.atom_start)
    assert len(set(large.molecule_id.tolist())) < 40


def test_items_are_schnetpack_inputs_in_bohr_and_ev(run_dir, splits):
    import h5py

    index = splits["val"]
    item = ShardConformers(index, [])[3]
    with h5py.File(index.files[index.file[3]]) as f:
        rows = slice(index.atom_start[3], index.atom_start[3] + index.atom_count[3])
        np.testing.assert_array_equal(item[P.R].numpy(), f["atoms/positions_bohr"][rows])
        np.testing.assert_array_equal(item[P.Z].numpy(), f["atoms/z"][rows])
    assert item["gap"].item() == index.targets[3, 0] and item[P.n_atoms].item() == index.atom_count[3]
    # the loader's collate adds idx_m; a worker process opens its own files and reads the same
    transforms = preprocessing(TINY, fit_offsets(splits["train"], TINY.target_specs), with_targets=True)
    dataset = ShardConformers(index, transforms)
    here = next(iter(AtomsLoader(dataset, batch_size=8)))
    there = next(iter(AtomsLoader(dataset, batch_size=8, num_workers=1)))
    assert here[P.idx_m].tolist() == np.repeat(np.arange(8), index.atom_count[:8]).tolist()
    for key in here:
        assert torch.equal(here[key], there[key]), key
    assert here[P.R].dtype == torch.float32 and len(here[P.idx_i]) > 0


def test_offsets_removed_for_training_are_added_back(splits):
    """RemoveOffsets + scaling then the model's postprocessing return the labels (same flags)."""
    offsets = fit_offsets(splits["train"], TINY.target_specs)
    assert offsets["energy"].atomrefs[6] < -1000 and offsets["gap"].atomrefs is None
    index = splits["test"]
    batch = next(iter(AtomsLoader(ShardConformers(index, preprocessing(TINY, offsets, True)), batch_size=10)))
    for transform in postprocessing(TINY, offsets):
        batch = transform(batch)
    for k, name in enumerate(TINY.targets):
        # float32 normalised labels: relative 1e-7 of a residual of a few eV
        np.testing.assert_allclose(batch[name].numpy(), index.targets[:10, k], rtol=0, atol=1e-5)


def test_training_beats_the_mean_predictor(trained):
    out, metrics = trained
    val = metrics["splits"]["val"]
    for target in TINY.targets:
        mae, base = val[target]["mae_mev"], val[target]["baseline_mae_mev"]
        print(f"validation {target}: MAE {mae:.1f} meV, mean-predictor baseline {base:.1f} meV")
        assert mae < 0.5 * base, (target, mae, base)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["splits"]["test"]["gap"]["rmse_mev"] >= saved["splits"]["test"]["gap"]["mae_mev"] > 0
    assert len(saved["learning_curve"]["val_mae_mev"]["gap"]) == TINY.training.max_epochs
    assert (out / "learning_curve.png").stat().st_size > 10_000


def test_reloaded_checkpoint_predicts_exactly_the_same(trained, splits):
    out, metrics = trained
    first = Trained.load(out)
    again = Trained.load(out / "model.pt")
    a, base = first.predict_index(splits["test"])
    b, _ = again.predict_index(splits["test"], batch_size=7)
    # other batches sum float32 atom contributions in another order: 1 micro-eV
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    c, _ = Trained.load(out).predict_index(splits["test"])
    assert np.array_equal(a, c)
    mae = np.abs(a[:, 0] - splits["test"].targets[:, 0]).mean() * 1000
    assert mae == pytest.approx(metrics["splits"]["test"]["gap"]["mae_mev"], rel=1e-12)
    assert not np.allclose(a, base)


def test_scaling_plot_and_mae_falls_with_size(splits, tmp_path):
    spec = TINY.replace(targets=("gap",), training={"max_epochs": 12})
    sizes = [12, 40, len(splits["train"])]
    result = scaling(spec, splits, tmp_path, sizes, progress=False, min_steps=20)
    maes = result["val_mae_mev"]["gap"]
    print("validation gap MAE (meV) at", sizes, ":", [round(m, 1) for m in maes])
    assert maes[0] > maes[1] > maes[2]
    assert result["steps"][0] >= 20 and result["epochs"][0] > 12  # 12 conformers: one batch an epoch
    assert result["fit"]["gap"]["slope"] < 0
    assert all(b > m for b, m in zip(result["val_baseline_mae_mev"]["gap"], maes))
    assert (tmp_path / "scaling.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "scaling.json").read_text())
    assert saved["sizes"] == sizes and saved["qm1b_gap_trend"]["slope"] < 0
    with pytest.raises(ValueError, match="exceeds"):
        scaling(spec, splits, tmp_path, [len(splits["train"]) + 1], progress=False)


def test_power_law_fit_recovers_an_exact_power_law():
    sizes = [100, 300, 1000, 3000]
    fit = power_law_fit(sizes, [500.0 * n ** -0.4 for n in sizes])
    assert fit["slope"] == pytest.approx(-0.4, abs=1e-12)
    assert fit["intercept"] == pytest.approx(np.log10(500.0), abs=1e-12) and fit["rms_log10"] < 1e-12
    trend = qm1b_gap_fit()  # 290 meV at 1e5 to 40 at 1e7: about -0.43 per decade
    assert trend["sizes"] == [100000, 1000000, 10000000] and -0.5 < trend["slope"] < -0.35


def test_model_specs_in_the_repository_build():
    small = spec_mod.load(MODELS_DIR / "schnet-small.toml")
    nine = spec_mod.load(MODELS_DIR / "schnet-9m.toml")
    assert small.targets == nine.targets == ("gap",)
    n_params = sum(p.numel() for p in build_model(nine, {"gap": Offsets(7.0, 1.0)}).parameters())
    assert 8.5e6 < n_params < 9.5e6  # QM1B's "9M"
    m = nine.model
    assert (m.n_atom_basis, m.n_filters, m.n_interactions, m.n_rbf, m.cutoff_bohr) == (1024, 256, 5, 200, 15.0)
    with pytest.raises(ValueError, match="targets"):
        spec_mod.from_dict({"name": "x", "targets": ["dipole"]})


def _cli(argv):
    parser = argparse.ArgumentParser(prog="dftgen")
    sub = parser.add_subparsers(dest="command")
    commands.add_train_commands(add_train_parser(sub))
    commands.add_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_train_evaluate_predict(run_dir, tmp_path, capsys):
    assert _cli(["train", "schnet", "schnet-small", "--data", str(run_dir), "--out", str(tmp_path),
                 "--max-epochs", "2", "--train-size", "30", "--no-progress"]) == 0
    model = tmp_path / "schnet-small"
    assert {p.name for p in model.iterdir()} >= {"model.pt", "metrics.json", "learning_curve.png"}
    assert json.loads((model / "metrics.json").read_text())["train_conformers"] == 30
    capsys.readouterr()
    assert _cli(["evaluate", str(model), "--data", str(run_dir), "--split", "val", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) == {"val"} and metrics["val"]["gap"]["mae_mev"] > 0
    assert _cli(["predict", str(model), "--smiles", "CCO", "--json"]) == 0
    gap = json.loads(capsys.readouterr().out)["gap_ev"]
    mol = Molecule.from_smiles("CCO")
    assert gap == Trained.load(model).predict_molecule(mol)["gap"]
    assert 5 < gap < 12
