"""The DFT-loss model spec (TOML, e.g. models/dftloss.toml), validated into dataclasses.

    name = "dftloss"
    [dft]       preset = "qm1b" plus any SCF setting override (precision, xc, grid_level, ...)
    [data]      train = [SMILES...], test = [SMILES...], conformers, held_out_conformers, seed;
                or dataset = PATH
    [model]     width, n_rbf, cutoff_bohr, scf_steps, broadening, seed
    [training]  route ("dft" or "labels"), steps, batch_size, lr, warmup_steps, clip, eval_every,
                consistency
    [labels]    weights of the label twin's loss terms: energy, orbitals, density
    [compare]   budget_minutes (one budget or a list), seeds

Units: lengths in Bohr, energies in Hartree, eigh broadening in Hartree^2.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dftgen.presets import Settings
from dftgen.specfile import (SettingsSection, check_keys, read_toml, replace_sections, section,
                             settings_section)


@dataclasses.dataclass(frozen=True)
class DataSection:
    """Molecules: SMILES lists split by molecule (each with `conformers` ETKDG conformers from
    one embedding seeded by `seed`; each training molecule also has `held_out_conformers`
    more, kept out of training), or a generated dataset (its train and test splits)."""

    train: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    conformers: int = 1
    held_out_conformers: int = 0
    seed: int = 0
    dataset: str | None = None
    limit: int | None = None  # at most this many conformers per split (datasets)

    def __post_init__(self):
        if self.dataset is None and not (self.train and self.test):
            raise ValueError("needs `train` and `test` SMILES lists, or `dataset`")
        if self.conformers < 1 or self.held_out_conformers < 0:
            raise ValueError("conformers must be >= 1 and held_out_conformers >= 0")
        overlap = set(self.train) & set(self.test)
        if overlap:
            raise ValueError(f"molecules in both train and test: {sorted(overlap)}")


@dataclasses.dataclass(frozen=True)
class ModelSection:
    width: int = 32
    n_rbf: int = 16
    cutoff_bohr: float = 8.0
    scf_steps: int = 2  # differentiable SCF steps after the predicted Hamiltonian
    broadening: float = 1e-10  # eta of the eigh derivative, Hartree^2
    seed: int = 0

    def __post_init__(self):
        if self.width < 1 or self.n_rbf < 1 or self.cutoff_bohr <= 0:
            raise ValueError("width, n_rbf and cutoff_bohr must be positive")
        if self.scf_steps < 0 or self.broadening <= 0:
            raise ValueError("scf_steps must be >= 0 and broadening > 0")


@dataclasses.dataclass(frozen=True)
class TrainingSection:
    route: str = "dft"  # "dft": the energy is the loss; "labels": the supervised twin
    steps: int = 300
    batch_size: int = 4
    lr: float = 3e-3
    warmup_steps: int = 20  # linear learning-rate warm-up: the gates scale Hartree-sized matrices
    clip: float = 1.0  # global gradient norm
    eval_every: int = 50
    # weight of the predicted Hamiltonian's self-consistency residual in either route's loss
    # (Hartree^-1 against the DFT energy): without it the network's output scale drifts freely
    consistency: float = 0.1

    def __post_init__(self):
        if self.route not in ("dft", "labels"):
            raise ValueError(f"route must be 'dft' or 'labels', got {self.route!r}")
        if min(self.steps, self.batch_size, self.eval_every) < 1 or self.lr <= 0:
            raise ValueError("steps, batch_size, eval_every and lr must be positive")
        if self.warmup_steps < 0 or self.consistency < 0:
            raise ValueError("warmup_steps and consistency must be >= 0")


@dataclasses.dataclass(frozen=True)
class LabelsSection:
    """Weights of the twin's loss: (E[D] - E*)^2 and (e_HOMO/LUMO - labels)^2 in Hartree^2,
    and the mean squared density difference where a label density exists."""

    energy: float = 1.0
    orbitals: float = 1.0
    density: float = 1.0


@dataclasses.dataclass(frozen=True)
class CompareSection:
    """budget_minutes: the budgets (minutes of one route's clock) at which both routes are
    evaluated; each run trains to the largest, so the smaller ones are points on its way.
    seeds: one run of each route per seed (network initialisation and batch draws)."""

    budget_minutes: float | tuple[float, ...] = (10.0,)
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self):
        budgets = self.budget_minutes if isinstance(self.budget_minutes, tuple) else (self.budget_minutes,)
        object.__setattr__(self, "budget_minutes", tuple(sorted(float(b) for b in budgets)))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.budget_minutes or self.budget_minutes[0] <= 0:
            raise ValueError(f"budget_minutes must be positive, got {list(self.budget_minutes)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct integers, got {list(self.seeds)}")


@dataclasses.dataclass(frozen=True)
class DFTLossSpec:
    name: str
    dft: SettingsSection
    data: DataSection
    model: ModelSection
    training: TrainingSection
    labels: LabelsSection
    compare: CompareSection

    @property
    def settings(self) -> Settings:
        return self.dft.settings

    def replace(self, **sections) -> DFTLossSpec:
        """A copy with fields of sections replaced: replace(training={"steps": 10})."""
        return replace_sections(self, **sections)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["dft"] = self.dft.to_table()
        return out


_SECTIONS = {"data": DataSection, "model": ModelSection, "training": TrainingSection,
             "labels": LabelsSection, "compare": CompareSection}


def from_dict(raw: dict, where: str = "model spec") -> DFTLossSpec:
    check_keys(raw, {"name", "dft", *_SECTIONS}, where)
    sections = {key: section(cls, raw.get(key, {}), key, where) for key, cls in _SECTIONS.items()}
    dft = settings_section(SettingsSection, raw.get("dft", {}), "dft", where)
    return DFTLossSpec(name=str(raw.get("name", "dftloss")), dft=dft, **sections)


def load(path: str | Path) -> DFTLossSpec:
    return from_dict(*read_toml(path, "model spec"))
