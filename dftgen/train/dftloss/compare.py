"""`dftgen compare`: the DFT-loss route against its label twin under equal compute budgets.

Both routes start from the same untrained network (one per seed) and the same molecules. A
route's clock counts what the route itself needs to reach its predictions: for the label
route the converged SCF that makes its labels, and for both, training. Every program a route
runs (its training steps, the labels' SCF) is compiled before the clocks start, as a dataset
run compiles its shapes first; the molecules' features (integrals, grid, initial guess), the
same for both routes, are computed once outside the clocks. Each run trains to the largest
budget and is evaluated, outside its clock, as its clock passes each budget: on held-out
molecules and on held-out conformers of the training molecules, with the SCF iterations a
converge-mode SCF needs from the predicted density.

Runs are files under OUT/runs/ (`<route>-seed<k>.json`, and the trained model in the folder
`<route>-seed<k>/`, a `guess=` for run_dft): a command skips the runs already there, so an
interrupted comparison resumes, and `--routes` / `--seeds` split one comparison over
processes. Each command ends by writing the report of every run present.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dftgen.atomic_files import write_text_atomically
from dftgen.data.provenance import provenance
from dftgen.train.dftloss import evaluate as ev
from dftgen.train.dftloss import labels as labels_mod
from dftgen.train.dftloss import molecules, plots
from dftgen.train.dftloss.features import Sample
from dftgen.train.dftloss.spec import DFTLossSpec
from dftgen.train.dftloss.train import Stopwatch, fit, new_model, prepare_split, route_loss, save

ROUTES = {"dft": "DFT loss (no labels)", "labels": "labels (converged SCF)"}
HELD_OUT = {"test": "held-out molecules", "held_out": "held-out conformers of the training molecules"}
UNLIMITED_STEPS = 10**9
REPORT, RESULTS, RUNS, SHARED = "report.md", "compare.json", "runs", "shared.json"
PLOTS = {"energy_mae_mev": ("energy_error_vs_budget.png", "energy MAE against converged SCF (meV)"),
         "gap_mae_mev": ("gap_error_vs_budget.png", "HOMO-LUMO gap MAE (meV)")}
COLUMNS = (("energy_mae_mev", "energy MAE (meV)"), ("homo_mae_mev", "HOMO MAE (meV)"),
           ("lumo_mae_mev", "LUMO MAE (meV)"), ("gap_mae_mev", "gap MAE (meV)"),
           ("iterations_from_prediction", "SCF iterations from the prediction"))


def run(spec: DFTLossSpec, out_dir: Path, routes: Sequence[str] = tuple(ROUTES),
        seeds: Sequence[int] | None = None, progress: Callable[[str], None] = print) -> dict:
    """Run each route once per seed (skipping runs already in out_dir/runs/), then write
    report.md, compare.json and the PNGs of every run present; returns the results. With
    every run already there, only the report is rewritten (nothing is featurised)."""
    runs_dir = out_dir / RUNS
    runs_dir.mkdir(parents=True, exist_ok=True)
    pending = [(seed, route) for seed in (seeds if seeds is not None else spec.compare.seeds)
               for route in routes if not (runs_dir / f"{route}-seed{seed}.json").exists()]
    shared_path = runs_dir / SHARED
    shared = json.loads(shared_path.read_text()) if shared_path.exists() else None
    if pending or shared is None or shared["data"] != json.loads(json.dumps(spec.to_dict()["data"])):
        train_samples, held, references, shared = _prepare(spec, progress)
        write_text_atomically(shared_path, json.dumps(shared, indent=1))
        for seed, route in pending:
            path = runs_dir / f"{route}-seed{seed}.json"
            model, result = run_route(spec, route, seed, train_samples, held, references)
            save(model, spec.replace(training={"route": route}, model={"seed": seed}), path.with_suffix(""))
            write_text_atomically(path, json.dumps(result, indent=1))
            last = result["log"][-1]
            progress(f"{ROUTES[route]}, seed {seed}: {last['step']} steps; " + ", ".join(
                f"{HELD_OUT[n]} energy MAE {last[n]['energy_mae_mev']:.2f} meV" for n in held))
    else:
        progress("every run is already there: rewriting the report")
    runs = [json.loads(p.read_text()) for p in sorted(runs_dir.glob("*-seed*.json"))]
    results = summarise(spec, runs, {k: v for k, v in shared.items() if k != "data"})
    results["machine"] = provenance()
    (out_dir / RESULTS).write_text(json.dumps(results, indent=1))
    for key, (name, label) in PLOTS.items():
        plots.error_vs_budget(results, key, label, out_dir / name, f"{spec.name}: mean and spread over seeds")
    (out_dir / REPORT).write_text(report(results))
    return results


def _prepare(spec: DFTLossSpec, progress: Callable[[str], None]):
    """The molecules' features (train and held-out sets), the held-out references, and what
    both routes share: feature and label-compile seconds, set sizes, the initial guess's
    error and minao's SCF iterations, and the spec's data section they were made from."""
    settings = spec.settings
    entries = molecules.load(spec.data)
    start = time.perf_counter()
    train_samples = prepare_split(entries["train"], spec)
    held = {name: prepare_split(entries[name], spec) for name in HELD_OUT if entries[name]}
    feature_s = time.perf_counter() - start
    references = {name: [ev.reference(s, settings) for s in samples] for name, samples in held.items()}
    start = time.perf_counter()
    for sample in _one_per_bucket(train_samples):  # the labels' SCF programs, before any clock
        ev.reference(sample, settings)
    shared = {
        "data": spec.to_dict()["data"],
        "feature_s": feature_s, "label_compile_s": time.perf_counter() - start,
        "train_conformers": len(train_samples),
        **{f"{name}_conformers": len(samples) for name, samples in held.items()},
        "guess_energy_mae_mev": {name: float(np.mean(np.abs(
            [ev.guess_energy(s.features, settings) - r.energy for s, r in zip(held[name], references[name])]
        )) * ev.MEV_PER_HA) for name in held},
        "iterations_from_minao": {name: float(np.mean([r.iterations for r in references[name]]))
                                  for name in held},
    }
    progress(f"{len(train_samples)} training conformers, "
             + ", ".join(f"{len(s)} {HELD_OUT[n]}" for n, s in held.items())
             + f"; features {feature_s:.1f} s")
    return train_samples, held, references, shared


def run_route(spec: DFTLossSpec, route: str, seed: int, train_samples: list[Sample],
              held: dict[str, list[Sample]], references: dict[str, list]) -> dict:
    """One route, one seed: labels (label route), then training until the clock passes the
    largest budget, evaluated on every held-out set as it passes each budget. Returns the
    trained model and the run's record."""
    m = spec.model
    settings = spec.settings
    route_spec = spec.replace(training={"route": route, "steps": UNLIMITED_STEPS}, model={"seed": seed})
    budgets_s = [60.0 * b for b in spec.compare.budget_minutes]

    def on_eval(model):
        out = {}
        for name, samples in held.items():
            result = ev.evaluate(model, samples, references[name], settings, m.scf_steps,
                                 m.broadening, iterations=True)
            result.pop("rows")
            out[name] = result
        return out

    untrained = new_model(route_spec)  # initialising compiles too: before the clock
    watch = Stopwatch()
    labels, label_s = None, 0.0
    if route == "labels":
        labels, label_s = labels_mod.generate(train_samples, settings)
    model, log = fit(untrained, train_samples, route_loss(route_spec), route_spec.training,
                     labels=labels, on_eval=on_eval, budget_s=budgets_s[-1], eval_times=budgets_s,
                     watch=watch, seed=seed)
    return model, {"route": route, "seed": seed, "label_s": label_s, "log": log}


def at_budget(run_result: dict, budget_s: float) -> dict:
    """The evaluation of a run when its clock passed `budget_s`: the untrained network where
    the route was still making labels then."""
    log = run_result["log"]
    if run_result["label_s"] > budget_s:
        return log[0]
    found = next((e for e in log if budget_s in e.get("passed_s", ())), None)
    if found is None:  # a run kept from a spec with other budgets
        raise ValueError(f"run {run_result['route']}-seed{run_result['seed']} was not evaluated at "
                         f"{budget_s / 60:g} min: its spec had other budgets; remove its file from "
                         f"{RUNS}/ to rerun it")
    return found


def summarise(spec: DFTLossSpec, runs: list[dict], shared: dict) -> dict:
    """Mean and standard deviation over seeds, per budget, route, held-out set and metric."""
    budgets = list(spec.compare.budget_minutes)
    table = []
    for budget in budgets:
        for route in ROUTES:
            chosen = [at_budget(r, 60.0 * budget) for r in runs if r["route"] == route]
            if not chosen:
                continue
            row = {"budget_minutes": budget, "route": route, "seeds": len(chosen),
                   "steps": float(np.mean([e["step"] for e in chosen])),
                   "seconds": float(np.mean([e["train_s"] for e in chosen]))}
            for name in shared["iterations_from_minao"]:
                row[name] = {key: _mean_std([e[name][key] for e in chosen]) for key, _ in COLUMNS}
            table.append(row)
    return {"spec": spec.to_dict(), **shared, "budgets_minutes": budgets,
            "label_s": _mean_std([r["label_s"] for r in runs if r["route"] == "labels"] or [0.0]),
            "table": table, "runs": runs}


def verdict(results: dict, name: str, key: str) -> list[str]:
    """Sentences: at each budget, which route has the lower mean `key` on held-out set `name`,
    by how much, and whether the lead is clear: larger than twice the standard error of the
    difference of the two means, the seeds taken as samples. Then where a clear lead changes
    hands, if it does."""
    lines, clear = [], []
    for budget in results["budgets_minutes"]:
        rows = {r["route"]: r for r in results["table"] if r["budget_minutes"] == budget}
        if len(rows) < 2:
            continue
        dft, lab = rows["dft"][name][key]["mean"], rows["labels"][name][key]["mean"]
        leader = "dft" if dft < lab else "labels"
        ratio = max(dft, lab) / max(min(dft, lab), 1e-300)
        head = (f"- {budget:g} min: {ROUTES[leader]} lower, {min(dft, lab):.3g} against "
                f"{max(dft, lab):.3g} ({ratio:.2f}x)")
        error = _difference_error(rows["dft"], rows["labels"], name, key)
        if error is None:
            lines.append(f"{head}; one seed per route, so no spread to judge the lead by.")
        elif abs(dft - lab) > 2.0 * error:
            clear.append((budget, leader))
            lines.append(f"{head}: a clear lead (difference {abs(dft - lab):.3g}, standard error "
                         f"{error:.2g}).")
        else:
            lines.append(f"{head}, within the seeds' spread (difference {abs(dft - lab):.3g}, "
                         f"standard error {error:.2g}).")
    for (b0, l0), (b1, l1) in zip(clear, clear[1:]):
        if l0 != l1:
            lines.append(f"- Crossover between {b0:g} and {b1:g} min: {ROUTES[l1]} takes the lead.")
    if not clear:
        lines.append("- No budget separates the routes beyond the seeds' spread.")
    elif len({lead for _, lead in clear}) == 1:
        lines.append(f"- No crossover: {ROUTES[clear[0][1]]} leads wherever a lead is clear.")
    return lines


def _difference_error(dft: dict, labels: dict, name: str, key: str) -> float | None:
    """Standard error of the difference of the two routes' means (None with one seed): the
    rows hold the seeds' population standard deviation, so each mean's error is std/sqrt(n-1)."""
    if min(dft["seeds"], labels["seeds"]) < 2:
        return None
    return float(np.sqrt(sum(row[name][key]["std"] ** 2 / (row["seeds"] - 1) for row in (dft, labels))))


def report(results: dict) -> str:
    """The markdown report of a comparison."""
    spec, data = results["spec"], results["spec"]["data"]
    machine = results["machine"]["machine"]
    lines = [
        f"# DFT loss against labels: {spec['name']}",
        "",
        f"Settings: {', '.join(f'{k} = {v}' for k, v in spec['dft'].items())}. Training molecules: "
        f"{', '.join(data['train']) or data['dataset']} ({results['train_conformers']} conformers). "
        f"Held out: " + "; ".join(
            f"{HELD_OUT[n]}"
            + (f" ({', '.join(data['test'])})" if n == "test" and data["test"] else "")
            + f", {results[f'{n}_conformers']} conformers" for n in results["iterations_from_minao"]) + ". "
        f"Budgets: {', '.join(f'{b:g}' for b in results['budgets_minutes'])} minutes of each route's "
        f"clock; seeds {', '.join(str(r['seed']) for r in results['runs'] if r['route'] == 'dft')}. "
        f"Machine: {machine['cpu']}, {machine['cores']} cores, JAX on CPU, one process per route.",
        "",
        f"Outside the clocks (shared by both routes): features {results['feature_s']:.1f} s; compiling "
        f"the labels' SCF {results['label_compile_s']:.1f} s and each route's training steps. Inside the "
        f"label route's clock: its labels, {results['label_s']['mean']:.1f} s of converged SCF. Errors "
        f"are against converged SCF at the same settings, mean ± standard deviation over seeds.",
        "",
    ]
    for name in HELD_OUT:
        if name in results["iterations_from_minao"]:
            lines += _section(results, name)
    lines += [f"![energy error against budget]({PLOTS['energy_mae_mev'][0]})",
              f"![gap error against budget]({PLOTS['gap_mae_mev'][0]})", ""]
    return "\n".join(lines)


def _section(results: dict, name: str) -> list[str]:
    """The report's lines for held-out set `name`: its table and verdicts."""
    title = HELD_OUT[name]
    lines = [f"## {title[0].upper() + title[1:]}", "",
             f"Initial guess (first SCF iterate): energy MAE {results['guess_energy_mae_mev'][name]:.4g} "
             f"meV; converge-mode SCF from minao: {results['iterations_from_minao'][name]:.1f} iterations.",
             "", "| budget (min) | route | steps | " + " | ".join(c for _, c in COLUMNS) + " |",
             "|---" * (3 + len(COLUMNS)) + "|"]
    for row in results["table"]:
        cells = [f"{row['budget_minutes']:g}", ROUTES[row["route"]], f"{row['steps']:.0f}"]
        cells += [f"{row[name][k]['mean']:.4g} ± {row[name][k]['std']:.2g}" for k, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", "Energy:", *verdict(results, name, "energy_mae_mev"),
                    "", "Gap:", *verdict(results, name, "gap_mae_mev"), ""]


def _mean_std(values) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def _one_per_bucket(samples: list[Sample]) -> list[Sample]:
    return list({s.key: s for s in samples}.values())

