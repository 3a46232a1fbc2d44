"""Molecules for training and evaluation, split by molecule: from SMILES lists (ETKDG
conformers) or from a generated dataset (its positions, with its labels for the twin)."""

from __future__ import annotations

import dataclasses

import numpy as np

from dftgen.data.splits import assign
from dftgen.elements import HARTREE_EV
from dftgen.molecule import Molecule
from dftgen.train.dftloss.spec import DataSection

TESTED_ON = ("test", "val")  # the first held-out split with molecules: QM1B's splits have no test

@dataclasses.dataclass
class Entry:
    """A conformer, and its stored labels when it came from a dataset (Hartree):
    {"energy", "homo", "lumo"}."""

    mol: Molecule
    labels: dict | None = None


def load(spec: DataSection) -> dict[str, list[Entry]]:
    """{"train": [...], "test": [...], "held_out": [...]}: "test" holds other molecules (no
    molecule has conformers in both it and "train"); "held_out" holds other conformers of
    the training molecules (empty for datasets)."""
    if spec.dataset is not None:
        return {**_from_dataset(spec), "held_out": []}
    train, held_out = [], []
    for smiles in spec.train:
        entries = _conformers(smiles, spec.conformers + spec.held_out_conformers, spec.seed)
        train += entries[:spec.conformers]
        held_out += entries[spec.conformers:]
    test = [e for smiles in spec.test for e in _conformers(smiles, spec.conformers, spec.seed)]
    return {"train": train, "test": test, "held_out": held_out}


def _conformers(smiles: str, n: int, seed: int) -> list[Entry]:
    return [Entry(dataclasses.replace(mol, name=f"{smiles} #{k}"))
            for k, mol in enumerate(Molecule.conformers(smiles, n, seed=seed))]


def _from_dataset(spec: DataSection) -> dict[str, list[Entry]]:
    """The dataset's train split and its test (or val) split; a dataset without them (a single
    file) is split here by molecule, as `dftgen.data.splits.assign` decides."""
    from dftgen.data import open_dataset

    with open_dataset(spec.dataset) as ds:
        rows = {name: list(ds.split(name)) for name in ds.split_names}
        if not rows.get("train") or not any(rows.get(name) for name in TESTED_ON):
            everything = [row for split in rows.values() for row in split]
            masks = assign([row["molecule_id"] for row in everything], ds.attrs)
            rows = {name: [row for row, m in zip(everything, mask) if m] for name, mask in masks.items()}
    tested_on = next((name for name in TESTED_ON if rows.get(name)), "test")
    parts = {"train": rows.get("train", []), "test": rows.get(tested_on, [])}
    return {k: [_entry(r) for r in v[:spec.limit]] for k, v in parts.items()}


def _entry(row: dict) -> Entry:
    mol = Molecule(numbers=np.asarray(row["z"]), positions=np.asarray(row["positions_bohr"]),
                   name=f"{row['smiles']} #{row['conformer']}")
    labels = {key: float(row[f"{key}_ev"]) / HARTREE_EV for key in ("energy", "homo", "lumo")}
    return Entry(mol, labels)
