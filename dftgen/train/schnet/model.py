"""SchNet from a spec: schnetpack's representation, one Atomwise head per target, the
transforms around it, and the AtomisticTask that trains it.

Targets are trained with offsets removed and divided by their spread, so targets of
different sizes (a total energy, a gap) weigh alike in the summed loss:

    preprocessing (per item):  neighbour list -> RemoveOffsets -> ScaleProperty(1/std) -> CastTo32
    postprocessing (batches):  CastTo64 -> ScaleProperty(std) -> AddOffsets

RemoveOffsets and AddOffsets get the same flags from one `Offsets`, so the mean added back
is the mean removed. schnetpack applies postprocessing at inference only; the task trains
and validates on the network's raw (normalised) outputs.
"""

from __future__ import annotations

import schnetpack as spk
import torch
import torchmetrics
from schnetpack import transform as trn

from dftgen.train.schnet.data import ZMAX, Offsets
from dftgen.train.schnet.spec import SchNetSpec

_NEIGHBOUR_LISTS = {
    "vesin": trn.VesinNeighborList,
    "matscipy": trn.MatScipyNeighborList,
    "ase": trn.ASENeighborList,
    "torch": trn.TorchNeighborList,
}


def neighbour_list(spec: SchNetSpec) -> trn.Transform:
    """All atom pairs closer than the cutoff (Bohr, the shards' unit)."""
    return _NEIGHBOUR_LISTS[spec.data.neighbour_list](cutoff=spec.model.cutoff_bohr)


def _offset_flags(spec: SchNetSpec, name: str, offsets: Offsets) -> dict:
    target = next(t for t in spec.target_specs if t.name == name)
    flags = {"is_extensive": target.extensive, "zmax": ZMAX,
             "property_mean": torch.tensor([offsets.mean], dtype=torch.float64)}
    if offsets.atomrefs is not None:
        flags["atomrefs"] = torch.as_tensor(offsets.atomrefs, dtype=torch.float64)
    return flags


def _scale(value: float) -> torch.Tensor:
    return torch.tensor([value], dtype=torch.float64)


def preprocessing(spec: SchNetSpec, offsets: dict[str, Offsets], with_targets: bool) -> list:
    """Per-item transforms; with_targets adds the offset removal and scaling of the labels
    (training and validation), without them only the model's inputs are prepared."""
    transforms = [neighbour_list(spec)]
    if with_targets:
        for name, off in offsets.items():
            transforms.append(trn.RemoveOffsets(name, remove_mean=True, remove_atomrefs=off.atomrefs is not None,
                                                **_offset_flags(spec, name, off)))
            transforms.append(trn.ScaleProperty(name, scale=_scale(1.0 / off.std)))
    transforms.append(trn.CastTo32())
    return transforms


def postprocessing(spec: SchNetSpec, offsets: dict[str, Offsets]) -> list:
    """Batch transforms undoing the target preprocessing on the network's outputs, in float64."""
    transforms = [trn.CastTo64()]
    for name, off in offsets.items():
        transforms.append(trn.ScaleProperty(name, scale=_scale(off.std)))
        transforms.append(trn.AddOffsets(name, add_mean=True, add_atomrefs=off.atomrefs is not None,
                                         **_offset_flags(spec, name, off)))
    return transforms


def build_model(spec: SchNetSpec, offsets: dict[str, Offsets]) -> spk.model.NeuralNetworkPotential:
    m = spec.model
    representation = spk.representation.SchNet(
        n_atom_basis=m.n_atom_basis, n_interactions=m.n_interactions, n_filters=m.n_filters,
        radial_basis=spk.nn.GaussianRBF(n_rbf=m.n_rbf, cutoff=m.cutoff_bohr),
        cutoff_fn=spk.nn.CosineCutoff(m.cutoff_bohr),
    )
    heads = [spk.atomistic.Atomwise(n_in=m.n_atom_basis, output_key=t.name,
                                    aggregation_mode="sum" if t.extensive else "avg")
             for t in spec.target_specs]
    return spk.model.NeuralNetworkPotential(
        representation=representation, input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=heads, postprocessors=postprocessing(spec, offsets),
    )


def build_task(spec: SchNetSpec, model: spk.model.NeuralNetworkPotential) -> spk.task.AtomisticTask:
    """L1 (or MSE) on each normalised target, AdamW, linear warm-up then exponential decay
    per epoch."""
    t = spec.training
    loss = torch.nn.L1Loss() if t.loss == "l1" else torch.nn.MSELoss()
    outputs = [spk.task.ModelOutput(name=name, loss_fn=loss, loss_weight=1.0,
                                    metrics={"MAE": torchmetrics.MeanAbsoluteError()})
               for name in spec.targets]
    return spk.task.AtomisticTask(
        model=model, outputs=outputs, optimizer_cls=torch.optim.AdamW,
        optimizer_args={"lr": t.lr, "weight_decay": t.weight_decay},
        scheduler_cls=torch.optim.lr_scheduler.ExponentialLR, scheduler_args={"gamma": t.lr_decay},
        warmup_steps=t.warmup_steps,
    )
