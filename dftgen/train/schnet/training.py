"""Training SchNet with schnetpack's AtomisticTask and Lightning's Trainer.

A model directory holds `model.pt` (the weights of the epoch with the lowest validation
loss), `metrics.json` (MAE and RMSE per target and split in meV, the offsets-only baseline,
and the learning curve) and `learning_curve.png`.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path

import pytorch_lightning as pl
import schnetpack as spk
import torch
from schnetpack.data.loader import AtomsLoader

from dftgen.train.schnet import plots
from dftgen.train.schnet.data import ConformerIndex, ShardConformers, fit_offsets, molecule_subset
from dftgen.train.schnet.evaluation import CHECKPOINT, EV_MEV, Trained, save_checkpoint
from dftgen.train.schnet.model import build_model, build_task, preprocessing
from dftgen.train.schnet.spec import SchNetSpec

METRICS = "metrics.json"
CURVE = "learning_curve.png"


class _Recorder(pl.Callback):
    """Per epoch: the mean training loss and the validation MAE of each target (meV); keeps
    a copy of the weights of the epoch with the lowest validation loss."""

    def __init__(self, spec: SchNetSpec, stds: dict[str, float]):
        self.targets, self.stds = list(spec.targets), stds
        self.curve = {"epoch": [], "train_loss": [], "val_mae_mev": {t: [] for t in self.targets}}
        self.best_loss, self.best_epoch, self.best_state = math.inf, -1, None
        self._losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._losses.append(float(loss))

    def on_train_epoch_end(self, trainer, pl_module):
        # Lightning runs the validation loop before this hook, so its metrics are in
        m = trainer.callback_metrics
        epoch = trainer.current_epoch
        self.curve["epoch"].append(epoch)
        self.curve["train_loss"].append(sum(self._losses) / max(len(self._losses), 1))
        self._losses = []
        for t in self.targets:  # the task's MAE is of normalised targets: undo the scale
            self.curve["val_mae_mev"][t].append(float(m[f"val_{t}_MAE"]) * self.stds[t] * EV_MEV)
        val_loss = float(m["val_loss"])
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_state = copy.deepcopy(pl_module.model.state_dict())


def train(spec: SchNetSpec, splits: dict[str, ConformerIndex], out_dir: str | os.PathLike,
          train_size: int | None = None, source: str = "", progress: bool = True,
          min_steps: int = 0) -> dict:
    """Train on splits["train"] (its first train_size conformers by shuffled molecule),
    select the epoch by splits["val"], write the model directory; returns the metrics.
    min_steps: train for more than the spec's epochs where they give fewer optimiser steps."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_index = splits["train"]
    if train_size is not None:
        train_index = molecule_subset(train_index, train_size, seed=spec.training.seed)
    if not len(train_index) or not len(splits.get("val", [])):
        raise ValueError(f"{source or 'the dataset'}: training needs train and val conformers, got "
                         f"{len(train_index)} and {len(splits.get('val', []))}")
    offsets = fit_offsets(train_index, spec.target_specs)
    torch.manual_seed(spec.training.seed)  # weights and the loader's shuffling
    model = build_model(spec, offsets)
    task = build_task(spec, model)
    transforms = preprocessing(spec, offsets, with_targets=True)
    d = spec.data
    loaders = [AtomsLoader(ShardConformers(index, transforms), batch_size=d.batch_size, shuffle=shuffle,
                           num_workers=d.num_workers, persistent_workers=d.num_workers > 0)
               for index, shuffle in ((train_index, True), (splits["val"], False))]
    recorder = _Recorder(spec, {t: o.std for t, o in offsets.items()})
    epochs = max(spec.training.max_epochs, math.ceil(min_steps / len(loaders[0])))
    trainer = pl.Trainer(
        max_epochs=epochs, accelerator="auto", devices=1, callbacks=[recorder],
        logger=False, enable_checkpointing=False, enable_progress_bar=progress,
        enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=out_dir,
    )
    trainer.fit(task, *loaders)
    model.load_state_dict(recorder.best_state)
    info = {
        "source": source, "train_conformers": len(train_index), "train_molecules": train_index.n_molecules,
        "epochs": len(recorder.curve["epoch"]), "best_epoch": recorder.best_epoch,
        "steps": len(recorder.curve["epoch"]) * len(loaders[0]),
        "schnetpack": str(spk.__version__), "torch": str(torch.__version__),
    }
    save_checkpoint(out_dir / CHECKPOINT, spec, model, offsets, info)
    trained = Trained(spec, model, offsets, info)
    metrics = {
        "model": spec.name, "targets": list(spec.targets), "units": "meV", **info,
        "device": str(trained.device),
        "splits": trained.metrics({**splits, "train": train_index}),
        "learning_curve": recorder.curve, "spec": spec.to_dict(),
    }
    (out_dir / METRICS).write_text(json.dumps(metrics, indent=1))
    plots.learning_curve(recorder.curve, out_dir / CURVE,
                         f"{spec.name}: {len(train_index)} training conformers")
    return metrics
