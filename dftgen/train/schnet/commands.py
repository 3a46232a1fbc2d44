"""CLI sub-commands: `dftgen train schnet`, `dftgen evaluate` and `dftgen predict`.

`dftgen.cli` registers them with

    train = dftgen.train.add_train_parser(subparsers)   # `dftgen train` and its trainers
    add_train_commands(train)                            # `dftgen train schnet`
    add_commands(subparsers)                             # `dftgen evaluate`, `dftgen predict`
"""

from __future__ import annotations

import json
from pathlib import Path

from dftgen import extras
from dftgen.cli_args import add_molecule_arguments, molecule_from_args
from dftgen.train import spec_path


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--scaling takes comma-separated training-set sizes, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--scaling takes positive sizes, got {text!r}")
    return sizes


def train_schnet(args) -> int:
    """Train SchNet (schnetpack) on a generated dataset; write model.pt, metrics.json and
    learning_curve.png under OUT/<name>/ (with --scaling: one model per size, scaling.json
    and the log-log scaling.png)."""
    extras.require("schnet", "dftgen train schnet")
    import torch

    from dftgen.train.schnet import spec as spec_mod
    from dftgen.train.schnet.data import load_splits
    from dftgen.train.schnet.scaling import RESULTS, PLOT, scaling
    from dftgen.train.schnet.training import train

    spec = spec_mod.load(spec_path(args.spec))
    if args.max_epochs is not None:
        spec = spec.replace(training={"max_epochs": args.max_epochs})
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = load_splits(args.data, spec.target_specs, spec.data.include_unconverged)
    out_dir = Path(args.out) / spec.name
    progress = not args.no_progress
    if args.scaling:
        result = scaling(spec, splits, out_dir, _sizes(args.scaling), source=str(args.data),
                         progress=progress, min_steps=args.min_steps)
        print(format_scaling(result))
        print(f"wrote {out_dir / RESULTS} and {out_dir / PLOT}")
        return 0
    metrics = train(spec, splits, out_dir, train_size=args.train_size, source=str(args.data), progress=progress)
    print(format_metrics(metrics["splits"], spec.targets))
    print(f"wrote {out_dir}/model.pt, metrics.json, learning_curve.png")
    return 0


def evaluate(args) -> int:
    """MAE and RMSE (meV) of a trained model on each split of a dataset, with the
    offsets-only (mean-predictor) baseline."""
    extras.require("schnet", "dftgen evaluate")
    from dftgen.train.schnet.data import load_splits
    from dftgen.train.schnet.evaluation import Trained

    trained = Trained.load(args.model)
    spec = trained.spec
    splits = load_splits(args.data, spec.target_specs, spec.data.include_unconverged)
    if args.split:
        asked = args.split.split(",")
        if set(asked) - set(splits):
            raise ValueError(f"--split {args.split!r}: the dataset's splits are {sorted(splits)}")
        splits = {name: splits[name] for name in asked}
    metrics = trained.metrics(splits)
    print(json.dumps(metrics) if args.json else format_metrics(metrics, spec.targets))
    return 0


def predict(args) -> int:
    """Predicted targets (eV) of one molecule by a trained model."""
    extras.require("schnet", "dftgen predict")
    from dftgen.train.schnet.evaluation import Trained

    trained = Trained.load(args.model)
    mol = molecule_from_args(args)
    values = trained.predict_molecule(mol)
    if args.json:
        print(json.dumps({"molecule": mol.name, **{f"{k}_ev": v for k, v in values.items()}}))
    else:
        for name, value in values.items():
            print(f"{name:<7s} {value:12.4f} eV")
    return 0


def format_scaling(result: dict) -> str:
    """Per size: validation MAE and the mean predictor's (meV); then the power-law fits."""
    lines = []
    for k, n in enumerate(result["train_conformers"]):
        lines.append(f"{n:>9d} training conformers ({result['train_molecules'][k]} molecules): "
                     "validation MAE " + ", ".join(
                         f"{t} {result['val_mae_mev'][t][k]:.1f} meV (mean predictor "
                         f"{result['val_baseline_mae_mev'][t][k]:.1f})" for t in result["val_mae_mev"]))
    for t, fit in result["fit"].items():
        lines.append(f"{t}: MAE = 10^{fit['intercept']:.3f} N^{fit['slope']:.3f} meV")
    if "qm1b_gap_trend" in result:
        trend = result["qm1b_gap_trend"]
        lines.append(f"QM1B's SchNet-9M gap trend, 1e5-1e7 conformers: MAE = 10^{trend['intercept']:.3f} "
                     f"N^{trend['slope']:.3f} meV")
    return "\n".join(lines)


def format_metrics(metrics: dict, targets) -> str:
    """A table: split, target, MAE, RMSE and baseline MAE in meV, and counts."""
    lines = [f"{'split':<6s} {'target':<7s} {'MAE':>10s} {'RMSE':>10s} {'baseline':>10s}  (meV)"]
    for split, row in metrics.items():
        for t in targets:
            m = row[t]
            lines.append(f"{split:<6s} {t:<7s} {m['mae_mev']:10.1f} {m['rmse_mev']:10.1f} "
                         f"{m['baseline_mae_mev']:10.1f}")
        lines.append(f"{split:<6s} {row['conformers']} conformers of {row['molecules']} molecules")
    return "\n".join(lines)


def add_train_commands(train_subparsers) -> None:
    """Register `schnet` on the sub-parsers of `dftgen train`."""
    p = train_subparsers.add_parser("schnet", help="SchNet (schnetpack) on a generated dataset",
                                    description=train_schnet.__doc__)
    p.add_argument("spec", help="model spec: a TOML file or a name in models/ (schnet-small, schnet-9m)")
    p.add_argument("--data", required=True, help="run directory (datasets/<name>-<hash>), shards folder or shard")
    p.add_argument("--out", default="models", help="parent folder of the model directory <name>/ (default models)")
    p.add_argument("--max-epochs", type=int, help="epochs (overrides the spec)")
    p.add_argument("--train-size", type=int, help="train on this many conformers (whole molecules, shuffled)")
    p.add_argument("--scaling", help="comma-separated training-set sizes: one model each, and the scaling plot")
    p.add_argument("--min-steps", type=int, default=0,
                   help="with --scaling: at least this many optimiser steps per size (small sets take more epochs)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=train_schnet)


def add_commands(subparsers) -> None:
    """Register `evaluate` and `predict` on the `dftgen` sub-parsers."""
    p = subparsers.add_parser("evaluate", help="errors of a trained model on a dataset's splits",
                              description=evaluate.__doc__)
    p.add_argument("model", help="model directory (models/<name>) or its model.pt")
    p.add_argument("--data", required=True, help="run directory, shards folder or shard file")
    p.add_argument("--split", help="comma-separated splits (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=evaluate)

    p = subparsers.add_parser("predict", help="a trained model's predictions for one molecule",
                              description=predict.__doc__)
    p.add_argument("model", help="model directory (models/<name>) or its model.pt")
    add_molecule_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object; keys carry units")
    p.set_defaults(func=predict)
