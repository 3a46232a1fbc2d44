"""Splits by molecule: one rule for the pipeline and every trainer.

A molecule's split is a function of its id alone: the id (a uniform 60-bit integer from the
SHA-256 of its canonical SMILES, `dftgen.pipeline.ingest.molecule_id`) divided by 2^60 is a
number in [0, 1), compared with the cumulative split fractions. All conformers of a molecule
therefore share a split, the assignment never depends on the order of work, and a trainer
that splits a file of a dataset (a part or a shard, without the run's index) puts each
molecule where the pipeline put it, by the fractions the file records.
"""

from __future__ import annotations

import numpy as np

ID_BITS = 60
Splits = tuple[tuple[str, float], ...]  # (name, fraction) pairs summing to 1
DEFAULT_SPLITS: Splits = (("train", 0.9), ("val", 0.05), ("test", 0.05))


def split_of(molecule_ids, splits: Splits = DEFAULT_SPLITS) -> np.ndarray:
    """Split name (object array) of each molecule id, for (name, fraction) pairs summing to 1."""
    u = np.asarray(molecule_ids, dtype=np.float64) / float(2**ID_BITS)
    edges = np.cumsum([f for _, f in splits])
    index = np.minimum(np.searchsorted(edges, u, side="right"), len(splits) - 1)
    return np.array([name for name, _ in splits], dtype=object)[index]


def recorded_splits(attrs: dict) -> Splits | None:
    """The fractions a dataset was generated with: its pipeline spec's [output] splits, which
    every file of a run carries (attribute `spec`); None for a file without them."""
    try:
        pairs = attrs["spec"]["output"]["splits"]
    except (KeyError, TypeError):
        return None
    return tuple((str(name), float(fraction)) for name, fraction in dict(pairs).items())


def assign(molecule_ids, attrs: dict, needed: tuple[str, ...] = ("train",)) -> dict[str, np.ndarray]:
    """A boolean mask over molecule_ids per split, for a trainer whose dataset holds no split
    assignment it can use (a single part or shard file, or a run without a split it needs).

    The dataset's own fractions come first, putting each molecule where the pipeline put it;
    when they leave a `needed` split empty or hold nothing out of train (a train shard alone,
    a train-only run), DEFAULT_SPLITS decide instead.
    """
    ids = np.asarray(molecule_ids)
    for splits in (recorded_splits(attrs), DEFAULT_SPLITS):
        if splits is None:
            continue
        assigned = split_of(ids, splits)
        masks = {name: assigned == name for name, _ in splits}
        filled = all(name in masks and masks[name].any() for name in needed)
        if filled and (assigned != "train").any():
            return masks
    return masks
