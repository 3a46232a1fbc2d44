"""Checkpoints, predictions and error metrics of a trained SchNet.

A checkpoint (`model.pt`) is a plain dictionary of the spec, the offsets and the model's
state_dict: only tensors, numbers, strings and lists, so it loads with torch.load's
weights_only=True (the default since torch 2.6) on any torch that reads the format, and
the model is rebuilt from the spec rather than unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import schnetpack as spk
import schnetpack.properties as P
import torch
from schnetpack.data.loader import AtomsLoader

from dftgen.atomic_files import atomic_path
from dftgen.train.schnet import spec as spec_mod
from dftgen.train.schnet.data import ConformerIndex, Offsets, ShardConformers, atoms_input
from dftgen.train.schnet.model import build_model, preprocessing
from dftgen.train.schnet.spec import SchNetSpec

CHECKPOINT = "model.pt"
FORMAT = "dftgen-schnet-1"
EV_MEV = 1000.0


def device() -> torch.device:
    """The GPU when torch sees one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_checkpoint(path: str | os.PathLike, spec: SchNetSpec, model, offsets: dict[str, Offsets],
                    info: dict) -> None:
    """Write the checkpoint atomically (temporary name, then rename)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "spec": spec.to_dict(),
                    "offsets": {k: o.to_dict() for k, o in offsets.items()},
                    "state_dict": state, "info": info}, tmp)


class Trained:
    """A trained model with its spec and offsets, ready to predict (eval mode, on `device`)."""

    def __init__(self, spec: SchNetSpec, model, offsets: dict[str, Offsets], info: dict,
                 on: torch.device | None = None):
        self.spec, self.offsets, self.info = spec, offsets, info
        self.device = on or device()
        self.model = model.to(self.device).eval()
        self.transforms = preprocessing(spec, offsets, with_targets=False)

    @classmethod
    def load(cls, path: str | os.PathLike, on: torch.device | None = None) -> Trained:
        """From a checkpoint file or the model directory holding `model.pt`."""
        path = Path(path)
        if path.is_dir():
            path = path / CHECKPOINT
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no SchNet checkpoint (train one with `dftgen train schnet`)")
        data = torch.load(path, map_location="cpu", weights_only=True)
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a dftgen SchNet checkpoint (format {data.get('format')!r})")
        spec = spec_mod.from_dict(data["spec"])
        offsets = {k: Offsets.from_dict(v) for k, v in data["offsets"].items()}
        model = build_model(spec, offsets)
        model.load_state_dict(data["state_dict"])
        return cls(spec, model, offsets, data["info"], on)

    def _run(self, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        """Predictions (n, n_targets) in eV of a collated batch, and the offsets-only
        predictions (the network's output replaced by zero) as the baseline."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.no_grad():
            out = self.model(batch)
            zeros = {**batch, **{t: torch.zeros_like(out[t], dtype=torch.float32) for t in self.spec.targets}}
            for transform in self.model.postprocessors:
                zeros = transform(zeros)
        pred = np.stack([out[t].cpu().numpy() for t in self.spec.targets], axis=1)
        base = np.stack([zeros[t].cpu().numpy() for t in self.spec.targets], axis=1)
        return pred, base

    def predict_index(self, index: ConformerIndex, batch_size: int | None = None,
                      num_workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, baseline), each (len(index), n_targets) in eV, in index order."""
        dataset = ShardConformers(index, self.transforms)
        loader = AtomsLoader(dataset, batch_size=batch_size or self.spec.data.batch_size,
                             num_workers=num_workers)
        pred = np.zeros((len(index), len(self.spec.targets)))
        base = np.zeros_like(pred)
        for batch in loader:
            rows = batch[P.idx].numpy()
            pred[rows], base[rows] = self._run(batch)
        return pred, base

    def predict_molecule(self, mol) -> dict[str, float]:
        """Targets in eV of a `dftgen.Molecule` (positions in Bohr)."""
        item = atoms_input(mol.numbers, np.asarray(mol.positions))
        for transform in self.transforms:
            item = transform(item)
        pred, _ = self._run(spk.data.loader._atoms_collate_fn([item]))
        return dict(zip(self.spec.targets, pred[0].tolist()))

    def metrics(self, splits: dict[str, ConformerIndex]) -> dict:
        """Per split and target: MAE and RMSE in meV, the offsets-only baseline's MAE, and
        the conformer and molecule counts."""
        out = {}
        for name, index in splits.items():
            if not len(index):
                continue
            pred, base = self.predict_index(index)
            out[name] = {t: error_metrics(pred[:, k], base[:, k], index.targets[:, k])
                         for k, t in enumerate(self.spec.targets)}
            out[name]["conformers"] = len(index)
            out[name]["molecules"] = index.n_molecules
        return out


def error_metrics(pred: np.ndarray, baseline: np.ndarray, truth: np.ndarray) -> dict:
    """MAE and RMSE (meV) of predictions against the truth (eV), and the baseline's MAE."""
    err = pred - truth
    return {"mae_mev": float(np.mean(np.abs(err))) * EV_MEV,
            "rmse_mev": float(np.sqrt(np.mean(err**2))) * EV_MEV,
            "baseline_mae_mev": float(np.mean(np.abs(baseline - truth))) * EV_MEV}
