"""`dftgen compare`: the DFT-loss route against its label twin under one compute budget.

Both routes start from the same untrained network and the same molecules. Each route's
clock (and budget) counts what the route itself needs to reach its predictions: for the
label route the converged SCF that makes its labels, and for both, training (compilation
included). The molecules' features (integrals, grid, initial guess) are the same for both
and computed once; the report states their time as a cost shared by both routes (a label
pipeline needs the same integrals). Evaluations on the held-out molecules run outside the
clocks. The report holds the error against wall-clock of both routes, the summary table,
and the initial-guess baseline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dftgen.train.dftloss import evaluate as ev
from dftgen.train.dftloss import labels as labels_mod
from dftgen.train.dftloss import molecules, plots
from dftgen.train.dftloss.spec import DFTLossSpec
from dftgen.train.dftloss.train import Stopwatch, fit, new_model, prepare_split, route_loss

ROUTES = {"dft": "DFT loss (no labels)", "labels": "labels (converged SCF)"}
UNLIMITED_STEPS = 10**9
REPORT, RESULTS = "report.md", "compare.json"
PLOTS = {"energy_mae_mev": ("energy_error_vs_time.png", "energy MAE against converged SCF (meV)"),
         "gap_mae_mev": ("gap_error_vs_time.png", "HOMO-LUMO gap MAE (meV)")}


def run(spec: DFTLossSpec, budget_minutes: float, out_dir: Path,
        progress: Callable[[str], None] = print) -> dict:
    """Run both routes for `budget_minutes` each; write report.md, compare.json and the
    PNGs to out_dir and return the results."""
    settings = spec.settings
    m = spec.model
    entries = molecules.load(spec.data)
    start = time.perf_counter()
    train_samples = prepare_split(entries["train"], spec)
    feature_s = time.perf_counter() - start
    test_samples = prepare_split(entries["test"], spec)
    references = [ev.reference(s, settings) for s in test_samples]
    guess = [ev.guess_energy(s.features, settings) - r.energy
             for s, r in zip(test_samples, references)]
    progress(f"{len(train_samples)} training and {len(test_samples)} test conformers; "
             f"features {feature_s:.1f} s")

    def on_eval(model):
        result = ev.evaluate(model, test_samples, references, settings, m.scf_steps, m.broadening)
        result.pop("rows")
        return result

    budget_s = budget_minutes * 60.0
    eval_times = [budget_s * (k + 1) / spec.compare.eval_points for k in range(spec.compare.eval_points)]
    logs, finals, label_s = {}, {}, {}
    for route in ROUTES:
        route_spec = spec.replace(training={"route": route, "steps": UNLIMITED_STEPS})
        watch = Stopwatch()
        labels = None
        if route == "labels":
            labels, label_s[route] = labels_mod.generate(train_samples, settings)
            progress(f"labels: {label_s[route]:.1f} s of converged SCF")
        model, logs[route] = fit(new_model(route_spec), train_samples, route_loss(route_spec),
                                 route_spec.training, labels=labels, on_eval=on_eval,
                                 budget_s=budget_s, eval_times=eval_times, watch=watch,
                                 seed=m.seed)
        finals[route] = ev.evaluate(model, test_samples, references, settings, m.scf_steps,
                                    m.broadening, iterations=True)
        progress(f"{ROUTES[route]}: {logs[route][-1]['step']} steps, test energy MAE "
                 f"{finals[route]['energy_mae_mev']:.2f} meV")

    results = {
        "spec": spec.to_dict(),
        "budget_s": budget_s,
        "feature_s": feature_s,
        "label_s": label_s.get("labels", 0.0),
        "train_conformers": len(train_samples),
        "test_conformers": len(test_samples),
        "guess_energy_mae_mev": float(np.mean(np.abs(guess)) * ev.MEV_PER_HA),
        "logs": logs,
        "final": finals,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESULTS).write_text(json.dumps(results, indent=2))
    for key, (name, label) in PLOTS.items():
        baseline = results["guess_energy_mae_mev"] if key == "energy_mae_mev" else None
        plots.error_vs_time({ROUTES[r]: logs[r] for r in ROUTES}, key, label, out_dir / name,
                            f"{spec.name}: held-out molecules", baseline)
    (out_dir / REPORT).write_text(report(results))
    return results


def report(results: dict) -> str:
    """The markdown report of a comparison's results."""
    spec = results["spec"]
    dft, logs, finals = spec["dft"], results["logs"], results["final"]
    untrained = logs["dft"][0]
    lines = [
        f"# DFT loss against labels: {spec['name']}",
        "",
        f"Settings: {', '.join(f'{k} = {v}' for k, v in dft.items())}. Budget: "
        f"{results['budget_s'] / 60:.2f} min per route. Training: "
        f"{results['train_conformers']} conformers; held out (other molecules): "
        f"{results['test_conformers']} conformers. Errors are against converged SCF at the "
        f"same settings; E[D] - E* >= 0 for every valid density.",
        "",
        f"Shared by both routes, outside the budget: features (integrals, grid, initial "
        f"guess) {results['feature_s']:.1f} s. Counted in the label route's clock: its labels "
        f"(converged SCF of the training conformers) {results['label_s']:.1f} s.",
        "",
        "| route | labels (s) | wall-clock (s) | steps | energy MAE (meV) | min E[D] - E* (Ha) "
        "| HOMO MAE (meV) | LUMO MAE (meV) | gap MAE (meV) | SCF iterations: from prediction / minao |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| initial guess (first SCF iterate) | | | | {results['guess_energy_mae_mev']:.4g} "
        "| | | | | |",
        _row("untrained network + SCF steps", untrained, None, None),
    ]
    for route, name in ROUTES.items():
        lines.append(_row(name, finals[route], logs[route][-1],
                          results["label_s"] if route == "labels" else 0.0))
    lines += ["", f"![energy error against wall-clock]({PLOTS['energy_mae_mev'][0]})",
              f"![gap error against wall-clock]({PLOTS['gap_mae_mev'][0]})", ""]
    return "\n".join(lines)


def _row(name: str, metrics: dict, last: dict | None, label_s: float | None) -> str:
    cells = [name, "" if label_s is None else f"{label_s:.1f}",
             "" if last is None else f"{last['train_s']:.1f}",
             "0" if last is None else str(last["step"]),
             f"{metrics['energy_mae_mev']:.4g}", f"{metrics['energy_min_error_ha']:.2e}",
             f"{metrics['homo_mae_mev']:.1f}", f"{metrics['lumo_mae_mev']:.1f}",
             f"{metrics['gap_mae_mev']:.1f}"]
    if "iterations_from_prediction" in metrics:
        cells.append(f"{metrics['iterations_from_prediction']:.1f} / {metrics['iterations_from_minao']:.1f}")
    else:
        cells.append("")
    return "| " + " | ".join(cells) + " |"
