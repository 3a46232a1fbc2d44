"""Splits by molecule: one rule for the pipeline and every trainer.

A molecule's split is a function of its id alone: the id (a uniform 60-bit integer from the
SHA-256 of its canonical SMILES, `dftgen.pipeline.ingest.molecule_id`) divided by 2^60 is a
number in [0, 1), compared with the cumulative split fractions. All conformers of a molecule
therefore share a split, the assignment never depends on the order of work, and a trainer
that splits a dataset without recorded splits puts each molecule where the pipeline would.
"""

from __future__ import annotations

import numpy as np

ID_BITS = 60
DEFAULT_SPLITS: tuple[tuple[str, float], ...] = (("train", 0.9), ("val", 0.05), ("test", 0.05))


def split_of(molecule_ids, splits=DEFAULT_SPLITS) -> np.ndarray:
    """Split name (object array) of each molecule id, for (name, fraction) pairs summing to 1."""
    u = np.asarray(molecule_ids, dtype=np.float64) / float(2**ID_BITS)
    edges = np.cumsum([f for _, f in splits])
    index = np.minimum(np.searchsorted(edges, u, side="right"), len(splits) - 1)
    return np.array([name for name, _ in splits], dtype=object)[index]
