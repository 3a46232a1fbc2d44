"""The comparison of the DFT-loss route with its label twin, end to end at tiny scale
(through the CLI's argparse registration), and `dftgen train dftloss` on a small spec."""

import argparse
import json

import pytest

from dftgen.train.dftloss import commands, compare

TINY_SPEC = """
name = "tiny"
[dft]
preset = "qm1b"
precision = "float64"
[data]
train = ["O"]
test = ["F"]
conformers = 2
[model]
width = 8
n_rbf = 4
scf_steps = 1
[training]
batch_size = 2
steps = 4
eval_every = 2
[compare]
eval_points = 2
"""
BOUND_NOISE_HA = 1e-8


def _parser():
    parser = argparse.ArgumentParser(prog="dftgen")
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train").add_subparsers(dest="trainer")
    commands.add_dftloss_command(train)
    commands.add_compare_command(sub)
    return parser


@pytest.fixture()
def spec_file(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SPEC)
    return path


def test_compare_writes_the_report_end_to_end(spec_file, tmp_path):
    out = tmp_path / "models"
    args = _parser().parse_args(["compare", str(spec_file), "--budget-minutes", "0.4", "--out", str(out)])
    assert args.func(args) == 0
    run_dir = out / "tiny-compare"
    report = (run_dir / compare.REPORT).read_text()
    results = json.loads((run_dir / compare.RESULTS).read_text())
    for name in compare.ROUTES.values():
        assert f"| {name} |" in report
    for png, _ in compare.PLOTS.values():
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in report
    assert results["label_s"] > 0
    assert results["logs"]["dft"][-1]["step"] >= 1
    for route in compare.ROUTES:
        log = results["logs"][route]
        # a route trains until its clock reaches the budget (labels may use all of it)
        assert log[0]["step"] == 0 and log[-1]["train_s"] >= results["budget_s"]
        times = [e["train_s"] for e in log]
        assert times == sorted(times)
        assert results["final"][route]["energy_min_error_ha"] > -BOUND_NOISE_HA
    # the label route's clock starts after its labels
    assert results["logs"]["labels"][0]["train_s"] >= results["label_s"]


def test_train_dftloss_command_writes_a_loadable_model(spec_file, tmp_path):
    from dftgen.train.dftloss.train import load_model

    out = tmp_path / "models"
    args = _parser().parse_args(["train", "dftloss", str(spec_file), "--out", str(out)])
    assert args.func(args) == 0
    model_dir = out / "tiny"
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert [e["step"] for e in metrics["log"]] == [0, 2, 4]
    assert metrics["test"]["energy_min_error_ha"] > -BOUND_NOISE_HA
    assert "iterations_from_prediction" in metrics["test"]
    model, spec = load_model(model_dir)
    assert spec.name == "tiny" and spec.model.width == 8
    assert (model_dir / "curve.png").stat().st_size > 0
