"""CLI sub-commands: `dftgen train dftloss SPEC` and `dftgen compare SPEC --budget-minutes M`.

`dftgen.cli` registers them with

    train = dftgen.train.add_train_parser(subparsers)
    add_dftloss_command(train)        # `dftgen train dftloss`
    add_compare_command(subparsers)   # `dftgen compare`
"""

from __future__ import annotations

from pathlib import Path

from dftgen.train import MODELS_DIR, spec_path


def _load_spec(args):
    from dftgen.train.dftloss import spec as spec_mod

    spec = spec_mod.load(spec_path(args.spec))
    if getattr(args, "data", None):
        spec = spec.replace(data={"dataset": args.data})
    if getattr(args, "route", None):
        spec = spec.replace(training={"route": args.route})
    if getattr(args, "steps", None):
        spec = spec.replace(training={"steps": args.steps})
    return spec


def train_dftloss(args) -> int:
    """Train the DFT-loss network (route dft: the energy of the predicted density is the
    loss; route labels: the supervised twin) and evaluate it on held-out molecules; writes
    model.eqx, spec.json, metrics.json and curve.png under OUT/<name>/."""
    from dftgen.train.dftloss.train import run

    spec = _load_spec(args)
    out_dir = Path(args.out) / spec.name
    metrics = run(spec, out_dir)
    test = metrics["test"]
    print(f"held-out energy MAE {test['energy_mae_mev']:.3f} meV (initial guess "
          f"{metrics['test_guess_energy_mae_mev']:.1f} meV), gap MAE {test['gap_mae_mev']:.1f} meV, "
          f"SCF iterations {test['iterations_from_prediction']:.1f} from the prediction against "
          f"{test['iterations_from_minao']:.1f} from minao")
    print(f"wrote {out_dir}/model.eqx, metrics.json, curve.png")
    return 0


def compare(args) -> int:
    """Run the DFT-loss route and its label twin (one run per seed) under equal budgets, label
    generation counted in the label route's clock; write report.md, compare.json and PNGs of
    error against budget under OUT/<name>-compare/ (runs already there are kept)."""
    from dftgen.train.dftloss import compare as compare_mod

    spec = _load_spec(args)
    if args.budget_minutes is not None:
        spec = spec.replace(compare={"budget_minutes": _numbers(args.budget_minutes, float, "--budget-minutes")})
    seeds = _numbers(args.seeds, int, "--seeds") if args.seeds else None
    routes = args.routes.split(",") if args.routes else list(compare_mod.ROUTES)
    unknown = set(routes) - set(compare_mod.ROUTES)
    if unknown:
        raise ValueError(f"--routes {args.routes!r}: the routes are {', '.join(compare_mod.ROUTES)}")
    out_dir = Path(args.out) / f"{spec.name}-compare"
    compare_mod.run(spec, out_dir, routes=routes, seeds=seeds)
    print(f"wrote {out_dir / compare_mod.REPORT}")
    return 0


def _numbers(text: str, kind, flag: str) -> tuple:
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def add_dftloss_command(train_subparsers) -> None:
    """Register `dftloss` on the `dftgen train` sub-parsers."""
    p = train_subparsers.add_parser("dftloss", help="train by backpropagating through the DFT energy",
                                    description=train_dftloss.__doc__)
    p.add_argument("spec", help="model spec: a TOML file or a name in models/ (e.g. dftloss)")
    p.add_argument("--data", help="a generated dataset to draw molecules (and twin labels) from, "
                                  "instead of the spec's SMILES")
    p.add_argument("--route", choices=["dft", "labels"], help="override the spec's route")
    p.add_argument("--steps", type=int, help="override the spec's training steps")
    p.add_argument("--out", default=str(MODELS_DIR), help="parent folder of the model (default models/)")
    p.set_defaults(func=train_dftloss)


def add_compare_command(subparsers) -> None:
    """Register the top-level `compare` command."""
    p = subparsers.add_parser("compare", help="DFT-loss training against training on labels, "
                                              "under one compute budget", description=compare.__doc__)
    p.add_argument("spec", help="model spec: a TOML file or a name in models/ (e.g. dftloss)")
    p.add_argument("--budget-minutes", help="comma-separated budgets, minutes of each route's clock "
                                            "(default: the spec's)")
    p.add_argument("--seeds", help="comma-separated seeds to run (default: the spec's)")
    p.add_argument("--routes", help="comma-separated routes to run: dft, labels (default: both)")
    p.add_argument("--data", help="a generated dataset to draw molecules from")
    p.add_argument("--out", default=str(MODELS_DIR), help="parent folder of the report (default models/)")
    p.set_defaults(func=compare)
