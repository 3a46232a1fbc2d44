"""Molecules for training and evaluation, split by molecule: from SMILES lists (ETKDG
conformers) or from a generated dataset (its positions, with its labels for the twin)."""

from __future__ import annotations

import dataclasses

import numpy as np

from dftgen.data.splits import split_of
from dftgen.elements import HARTREE_EV
from dftgen.molecule import Molecule
from dftgen.train.dftloss.spec import DataSection


@dataclasses.dataclass
class Entry:
    """A conformer, and its stored labels when it came from a dataset (Hartree):
    {"energy", "homo", "lumo"}."""

    mol: Molecule
    labels: dict | None = None


def load(spec: DataSection) -> dict[str, list[Entry]]:
    """{"train": [...], "test": [...]}: no molecule has conformers in both."""
    if spec.dataset is not None:
        return _from_dataset(spec)
    return {"train": _from_smiles(spec.train, spec), "test": _from_smiles(spec.test, spec)}


def _from_smiles(smiles_list, spec: DataSection) -> list[Entry]:
    entries = []
    for smiles in smiles_list:
        for k, mol in enumerate(Molecule.conformers(smiles, spec.conformers, seed=spec.seed)):
            entries.append(Entry(dataclasses.replace(mol, name=f"{smiles} #{k}")))
    return entries


def _from_dataset(spec: DataSection) -> dict[str, list[Entry]]:
    from dftgen.data import open_dataset

    ds = open_dataset(spec.dataset)
    names = ds.split_names
    if "train" in names and ("test" in names or "val" in names):
        parts = {"train": ds.split("train"), "test": ds.split("test" if "test" in names else "val")}
        rows = {k: list(v) for k, v in parts.items()}
    else:
        everything = list(ds)  # split as the pipeline would; val and test are held out
        held = split_of([r["molecule_id"] for r in everything]) != "train"
        rows = {"train": [r for r, h in zip(everything, held) if not h],
                "test": [r for r, h in zip(everything, held) if h]}
    limit = spec.limit
    return {k: [_entry(r) for r in v[:limit]] for k, v in rows.items()}


def _entry(row: dict) -> Entry:
    mol = Molecule(numbers=np.asarray(row["z"]), positions=np.asarray(row["positions_bohr"]),
                   name=f"{row['smiles']} #{row['conformer']}")
    labels = {key: float(row[f"{key}_ev"]) / HARTREE_EV for key in ("energy", "homo", "lumo")}
    return Entry(mol, labels)
