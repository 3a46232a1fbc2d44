"""Training: the DFT-loss route (loss = E[D] of the predicted density, no labels) and the
label twin, by one optimiser loop; `run` is `dftgen train dftloss`.

Molecules are grouped by shape bucket (basis structure and grid size); each step draws one
bucket (in proportion to its size) and a batch from it with replacement, so every step of a
bucket reuses one compiled program. The step clock (`Stopwatch`) excludes evaluations, so
a route's wall-clock is its training cost alone.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dftgen.precision import dtype as precision_dtype
from dftgen.train.dftloss import differentiable_scf as dscf
from dftgen.train.dftloss import evaluate as ev
from dftgen.train.dftloss import labels as labels_mod
from dftgen.train.dftloss import molecules
from dftgen.train.dftloss.spec import DFTLossSpec, TrainingSection
from dftgen.train.dftloss.features import Sample, featurise, stack
from dftgen.train.dftloss.model import HamiltonianCorrection

MODEL_FILE, SPEC_FILE, METRICS_FILE, CURVE_FILE = "model.eqx", "spec.json", "metrics.json", "curve.png"


def energy_loss(model, features, label, functional: str, steps: int, broadening: float,
                consistency: float):
    """The DFT-loss route: E[D] of the predicted density plus `consistency` times the
    predicted Hamiltonian's self-consistency residual, Hartree (`label` is unused)."""
    pred = dscf.refine(model.hamiltonian(features), features.scf, functional, steps, broadening)
    return pred.energy + consistency * pred.residual


def route_loss(spec: DFTLossSpec) -> Callable:
    """loss(model, features, label) of the spec's route, the spec's settings bound."""
    m, t = spec.model, spec.training
    common = dict(functional=spec.settings.xc, steps=m.scf_steps, broadening=m.broadening,
                  consistency=t.consistency)
    if t.route == "dft":
        return functools.partial(energy_loss, **common)
    return functools.partial(labels_mod.label_loss, weights=spec.labels, **common)


def new_model(spec: DFTLossSpec) -> HamiltonianCorrection:
    m = spec.model
    return HamiltonianCorrection(jax.random.PRNGKey(m.seed), m.width, m.n_rbf, m.cutoff_bohr,
                                 dtype=precision_dtype(spec.settings.precision))


class Stopwatch:
    """Seconds of training, with evaluations paused out."""

    def __init__(self):
        self.start, self.paused = time.perf_counter(), 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def pause(self):
        return _Pause(self)


class _Pause:
    def __init__(self, watch: Stopwatch):
        self.watch = watch

    def __enter__(self):
        self.begin = time.perf_counter()

    def __exit__(self, *exc):
        self.watch.paused += time.perf_counter() - self.begin


def fit(model, samples: list[Sample], loss: Callable, training: TrainingSection, *,
        labels: list | None = None, on_eval: Callable | None = None,
        budget_s: float | None = None, eval_times: list[float] | None = None,
        watch: Stopwatch | None = None, seed: int = 0):
    """Train `model` on `samples`, minimising the batch mean of loss(model, features, label).

    Every bucket's step is compiled first, outside the clock. Stops after `training.steps`
    steps, or, with `budget_s`, when the stopwatch reaches it. `on_eval(model) -> dict` is
    called before the first step, then every `training.eval_every` steps (or when the
    stopwatch passes each of `eval_times`), and at the end, outside the clock. Returns
    (model, log): one dict per evaluation with step, train_s (the stopwatch), the mean
    training loss since the previous one and, with `eval_times`, the times it passed
    (`passed_s`).
    """
    watch = watch or Stopwatch()
    rng = np.random.default_rng(seed)
    with watch.pause():  # setup and compilation are paid before the clock, as a dataset run pays them
        buckets, stacked, stacked_labels = _by_bucket(samples, labels)
        keys = list(buckets)
        weights = np.array([len(buckets[k]) for k in keys], float)
        lr = optax.linear_schedule(0.0, training.lr, training.warmup_steps) if training.warmup_steps else training.lr
        optimiser = optax.chain(optax.clip_by_global_norm(training.clip), optax.adam(lr))
        opt_state = optimiser.init(eqx.filter(model, eqx.is_array))
        step = _step_function(loss, optimiser)

        def draw(k):
            return jnp.asarray(rng.integers(0, len(buckets[k]), training.batch_size))

        for k in keys:
            jax.block_until_ready(step(model, opt_state, stacked[k], stacked_labels[k], draw(k))[2])

    log, losses = [], []
    pending = sorted(eval_times or [])

    def record(n, passed=()):
        with watch.pause():
            entry = {"step": n, "train_s": watch.elapsed(),
                     "loss": float(np.mean(losses)) if losses else None}
            if eval_times is not None:
                entry["passed_s"] = list(passed)
            entry.update(on_eval(model) if on_eval else {})
            log.append(entry)
            losses.clear()

    record(0)
    n = 0
    while n < training.steps and (budget_s is None or watch.elapsed() < budget_s):
        k = keys[rng.choice(len(keys), p=weights / weights.sum())]
        model, opt_state, value = step(model, opt_state, stacked[k], stacked_labels[k], draw(k))
        losses.append(float(value))
        n += 1
        passed = [t for t in pending if watch.elapsed() >= t]
        pending = pending[len(passed):]
        due = bool(passed) if eval_times is not None else n % training.eval_every == 0
        if due and n < training.steps:
            record(n, passed)
    passed = [t for t in pending if watch.elapsed() >= t]
    if log[-1]["step"] != n:
        record(n, passed)
    elif passed:  # no step since the last evaluation: its model is the one at these times
        log[-1]["passed_s"] += passed
    return model, log


def _by_bucket(samples: list[Sample], labels: list | None):
    """Sample indices per shape bucket, and each bucket's features (and labels) stacked."""
    buckets: dict[tuple, list[int]] = {}
    for i, s in enumerate(samples):
        buckets.setdefault(s.key, []).append(i)
    stacked = {k: stack([samples[i].features for i in idx]) for k, idx in buckets.items()}
    stacked_labels = {k: None if labels is None else jax.tree.map(
        lambda *a: jnp.stack(a), *[labels[i] for i in idx]) for k, idx in buckets.items()}
    return buckets, stacked, stacked_labels


def _step_function(loss: Callable, optimiser):
    """step(model, opt_state, features, label, index) -> (model, opt_state, batch loss): one
    optimiser step on the batch `index` of a bucket's stacked features, compiled."""

    @eqx.filter_jit
    def step(model, opt_state, features, label, index):
        batch = jax.tree.map(lambda a: a[index], features)
        batch_label = jax.tree.map(lambda a: a[index], label)

        def batch_loss(m):
            return jnp.mean(jax.vmap(lambda f, y: loss(m, f, y))(batch, batch_label))

        value, grads = eqx.filter_value_and_grad(batch_loss)(model)
        updates, opt_state = optimiser.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, value

    return step


def save(model, spec: DFTLossSpec, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    eqx.tree_serialise_leaves(out_dir / MODEL_FILE, model)
    (out_dir / SPEC_FILE).write_text(json.dumps(spec.to_dict(), indent=2))


def load_model(model_dir: str | Path) -> tuple[HamiltonianCorrection, DFTLossSpec]:
    """A trained model and its spec from a model directory written by `run`."""
    from dftgen.train.dftloss.spec import from_dict

    model_dir = Path(model_dir)
    saved = model_dir / SPEC_FILE
    spec = from_dict(json.loads(saved.read_text()), f"model spec {str(saved)!r}")
    return eqx.tree_deserialise_leaves(model_dir / MODEL_FILE, new_model(spec)), spec


def prepare_split(entries: list[molecules.Entry], spec: DFTLossSpec) -> list[Sample]:
    return [featurise(e.mol, spec.settings) for e in entries]


def run(spec: DFTLossSpec, out_dir: Path, progress: Callable[[str], None] = print) -> dict:
    """Train the spec's route on its train split, evaluate on its test split against
    converged SCF; write model.eqx, spec.json, metrics.json and curve.png to out_dir."""
    settings = spec.settings
    entries = molecules.load(spec.data)
    start = time.perf_counter()
    train_samples = prepare_split(entries["train"], spec)
    test_samples = prepare_split(entries["test"], spec)
    progress(f"features of {len(train_samples)} train and {len(test_samples)} test conformers: "
             f"{time.perf_counter() - start:.1f} s")
    references = [ev.reference(s, settings) for s in test_samples]
    labels, label_s = None, 0.0
    if spec.training.route == "labels":
        labels, label_s = _training_labels(entries["train"], train_samples, settings)
        progress(f"labels of {len(labels)} conformers: {label_s:.1f} s")

    m = spec.model

    def on_eval(model):
        result = ev.evaluate(model, test_samples, references, settings, m.scf_steps, m.broadening)
        result.pop("rows")
        progress(f"  test energy MAE {result['energy_mae_mev']:.2f} meV, "
                 f"gap MAE {result['gap_mae_mev']:.1f} meV")
        return result

    model, log = fit(new_model(spec), train_samples, route_loss(spec), spec.training,
                     labels=labels, on_eval=on_eval, seed=m.seed)
    final = ev.evaluate(model, test_samples, references, settings, m.scf_steps, m.broadening,
                        iterations=True)
    guess = [ev.guess_energy(s.features, settings) - r.energy
             for s, r in zip(test_samples, references)]
    metrics = {
        "route": spec.training.route,
        "settings": spec.to_dict()["dft"],
        "label_s": label_s,
        "train_s": log[-1]["train_s"],
        "test": final,
        "test_guess_energy_mae_mev": float(np.mean(np.abs(guess)) * ev.MEV_PER_HA),
        "log": log,
    }
    save(model, spec, out_dir)
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    from dftgen.train.dftloss.plots import training_curve

    training_curve(log, out_dir / CURVE_FILE, title=f"{spec.name} ({spec.training.route} route)")
    return metrics


def _training_labels(entries, samples, settings):
    """Stored labels when the molecules came from a dataset, else converged SCF here."""
    if all(e.labels is not None for e in entries):
        return [labels_mod.from_values(s, **e.labels) for e, s in zip(entries, samples)], 0.0
    return labels_mod.generate(samples, settings)
