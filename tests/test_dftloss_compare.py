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
held_out_conformers = 1
[model]
width = 8
n_rbf = 4
scf_steps = 1
[training]
batch_size = 2
steps = 4
eval_every = 2
[compare]
budget_minutes = [0.05, 0.15]
seeds = [0, 1]
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


def test_compare_writes_the_report_end_to_end_and_resumes(spec_file, tmp_path, monkeypatch):
    out = tmp_path / "models"
    args = _parser().parse_args(["compare", str(spec_file), "--out", str(out)])
    assert args.func(args) == 0
    run_dir = out / "tiny-compare"
    report = (run_dir / compare.REPORT).read_text()
    results = json.loads((run_dir / compare.RESULTS).read_text())
    assert sorted(p.name for p in (run_dir / compare.RUNS).glob("*.json")) == [
        "dft-seed0.json", "dft-seed1.json", "labels-seed0.json", "labels-seed1.json", compare.SHARED]
    assert (run_dir / compare.RUNS / "dft-seed1" / "model.eqx").is_file()  # a guess= for run_dft
    for name in compare.ROUTES.values():
        assert f"| {name} |" in report
    for png, _ in compare.PLOTS.values():
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in report
    assert "Held out: held-out molecules (F), 2 conformers; held-out conformers" in report
    assert "standard error" in report
    assert (results["train_conformers"], results["test_conformers"], results["held_out_conformers"]) == (2, 2, 1)
    assert results["label_s"]["mean"] > 0 and results["machine"]["machine"]["cores"] >= 1
    budgets_s = [60 * b for b in results["budgets_minutes"]]
    for run in results["runs"]:
        log = run["log"]
        # a run trains until its clock passes the largest budget (labels may use all of it), and
        # is evaluated on both held-out sets as it passes each budget
        assert log[0]["step"] == 0 and log[-1]["train_s"] >= budgets_s[-1]
        assert [e["train_s"] for e in log] == sorted(e["train_s"] for e in log)
        assert sorted(t for e in log for t in e["passed_s"]) == budgets_s
        for name in compare.HELD_OUT:
            assert log[-1][name]["energy_min_error_ha"] > -BOUND_NOISE_HA
            assert log[-1][name]["iterations_from_prediction"] >= 1
        if run["route"] == "labels":  # the label route's clock starts after its labels
            assert log[0]["train_s"] >= run["label_s"] > 0
        else:  # and nothing else runs on a clock before the first step: compilation is outside
            assert log[0]["train_s"] < 1.0
    assert {(r["budget_minutes"], r["route"], r["seeds"]) for r in results["table"]} == {
        (b, route, 2) for b in results["budgets_minutes"] for route in compare.ROUTES}
    # a second command finds every run done: it only rewrites the report, featurising nothing
    before = {p.name: p.stat().st_mtime_ns for p in (run_dir / compare.RUNS).iterdir()}
    (run_dir / compare.REPORT).unlink()
    monkeypatch.setattr(compare, "prepare_split", _no_features)
    args = _parser().parse_args(["compare", str(spec_file), "--out", str(out), "--routes", "dft",
                                 "--seeds", "1"])
    assert args.func(args) == 0
    assert before == {p.name: p.stat().st_mtime_ns for p in (run_dir / compare.RUNS).iterdir()}
    assert (run_dir / compare.REPORT).read_text() == report


def _no_features(*args):
    raise AssertionError("featurised although every run was there")


def test_a_route_still_making_labels_at_a_budget_is_judged_untrained():
    log = [{"step": 0, "train_s": 50.0, "passed_s": []}, {"step": 3, "train_s": 61.0, "passed_s": [30.0, 60.0]}]
    assert compare.at_budget({"label_s": 50.0, "log": log}, 30.0)["step"] == 0
    assert compare.at_budget({"label_s": 50.0, "log": log}, 60.0)["step"] == 3
    with pytest.raises(ValueError, match="dft-seed2 was not evaluated at 2 min"):
        compare.at_budget({"route": "dft", "seed": 2, "label_s": 0.0, "log": log}, 120.0)


def test_compare_rejects_unknown_routes_and_bad_numbers(spec_file, tmp_path):
    for flags, message in ((["--routes", "dft,magic"], "the routes are"),
                           (["--budget-minutes", "5,x"], "comma-separated numbers")):
        args = _parser().parse_args(["compare", str(spec_file), "--out", str(tmp_path), *flags])
        with pytest.raises(ValueError, match=message):
            args.func(args)


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


def _table(budgets, dft, labels, seeds=3):
    """A results table: per budget, (mean, std) of the energy MAE of each route."""
    rows = [{"budget_minutes": b, "route": route, "seeds": seeds,
             "test": {"energy_mae_mev": {"mean": m, "std": sd}}}
            for b, d, lab in zip(budgets, dft, labels) for route, (m, sd) in (("dft", d), ("labels", lab))]
    return {"budgets_minutes": budgets, "table": rows}


def test_verdict_calls_a_lead_clear_only_beyond_the_seeds_spread():
    # standard error of the difference: sqrt(2 * 10^2 / 2) = 10; a lead is clear above 20
    lines = compare.verdict(_table([1, 3, 9], [(100, 10), (100, 10), (150, 10)],
                                   [(150, 10), (110, 10), (100, 10)]), "test", "energy_mae_mev")
    assert lines[0].startswith("- 1 min: DFT loss (no labels) lower, 100 against 150 (1.50x): a clear lead")
    assert "within the seeds' spread (difference 10, standard error 10)" in lines[1]
    assert lines[2].startswith("- 9 min: labels (converged SCF) lower") and "clear lead" in lines[2]
    assert lines[3] == "- Crossover between 1 and 9 min: labels (converged SCF) takes the lead."
    tied = compare.verdict(_table([1], [(100, 50)], [(120, 50)]), "test", "energy_mae_mev")
    assert tied[-1] == "- No budget separates the routes beyond the seeds' spread."
    single = compare.verdict(_table([1], [(100, 0)], [(120, 0)], seeds=1), "test", "energy_mae_mev")
    assert "one seed per route" in single[0]
