"""A SchNet model spec: what to predict, the network's size and the training recipe (TOML).

    name = "schnet-small"
    targets = ["gap"]                  # any of gap (default, QM1B's), energy, homo, lumo
    [model]   n_atom_basis, n_filters, n_interactions, n_rbf, cutoff_bohr
    [data]    batch_size, num_workers, neighbour_list, include_unconverged
    [training] loss, lr, weight_decay, warmup_steps, lr_decay, max_epochs, seed

Lengths are in Bohr, the unit of the shards' positions: QM1B's cutoff 15 was in its
dataset's unit, also Bohr (7.9 Angstrom). Targets are in eV.
"""

from __future__ import annotations

import dataclasses
import os

from dftgen.specfile import SpecError, check_keys, read_toml, replace_sections, section


@dataclasses.dataclass(frozen=True)
class Target:
    """A predicted property: its key in schnetpack's input dictionary and shard column."""

    name: str
    column: str
    extensive: bool  # summed over atoms (energy) or averaged (orbital energies)


TARGETS = {
    "gap": Target("gap", "gap_ev", extensive=False),
    "energy": Target("energy", "energy_ev", extensive=True),
    "homo": Target("homo", "homo_ev", extensive=False),
    "lumo": Target("lumo", "lumo_ev", extensive=False),
}
NEIGHBOUR_LISTS = ("vesin", "matscipy", "ase", "torch")
LOSSES = ("l1", "mse")


@dataclasses.dataclass(frozen=True)
class ModelSection:
    n_atom_basis: int = 64  # features per atom
    n_filters: int = 64  # filters of the continuous-filter convolutions
    n_interactions: int = 3
    n_rbf: int = 25  # Gaussians expanding distances 0 .. cutoff
    cutoff_bohr: float = 10.0


@dataclasses.dataclass(frozen=True)
class DataSection:
    batch_size: int = 32
    num_workers: int = 0  # loader processes; 0 reads in the training process
    neighbour_list: str = "vesin"  # schnetpack transform: vesin, matscipy, ase or torch
    include_unconverged: bool = False  # QM1B dropped unconverged rows and zero gaps

    def __post_init__(self):
        if self.neighbour_list not in NEIGHBOUR_LISTS:
            raise ValueError(f"neighbour_list must be one of {NEIGHBOUR_LISTS}")


@dataclasses.dataclass(frozen=True)
class TrainingSection:
    loss: str = "l1"  # l1 (QM1B) or mse
    lr: float = 5e-4
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    warmup_steps: int = 100  # linear warm-up of the learning rate from 0
    lr_decay: float = 0.96  # learning rate x lr_decay after every epoch
    max_epochs: int = 50
    seed: int = 0

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}")


@dataclasses.dataclass(frozen=True)
class SchNetSpec:
    name: str
    targets: tuple[str, ...] = ("gap",)
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    training: TrainingSection = TrainingSection()

    def __post_init__(self):
        unknown = [t for t in self.targets if t not in TARGETS]
        if unknown or not self.targets:
            raise ValueError(f"targets must be a non-empty list of {sorted(TARGETS)}, got "
                             f"{list(self.targets)}")

    @property
    def target_specs(self) -> list[Target]:
        return [TARGETS[t] for t in self.targets]

    def replace(self, **sections) -> SchNetSpec:
        """A copy with fields of sections replaced: spec.replace(training={"max_epochs": 3})."""
        return replace_sections(self, **sections)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["targets"] = list(self.targets)
        return out


_SECTIONS = {"model": ModelSection, "data": DataSection, "training": TrainingSection}


def from_dict(data: dict, where: str = "model spec") -> SchNetSpec:
    check_keys(data, {"name", "targets", *_SECTIONS}, where)
    if "name" not in data:
        raise SpecError(f"{where}: needs a name (the model directory's)")
    kwargs = {"name": data["name"], "targets": tuple(data.get("targets", ("gap",)))}
    for key, cls in _SECTIONS.items():
        kwargs[key] = section(cls, data.get(key, {}), key, where)
    try:
        return SchNetSpec(**kwargs)
    except ValueError as err:  # the targets' check, named with the file
        raise SpecError(f"{where}: {err}") from None


def load(path: str | os.PathLike) -> SchNetSpec:
    """A spec from a TOML file."""
    return from_dict(*read_toml(path, "model spec"))
