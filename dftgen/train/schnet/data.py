"""dftgen shards as a schnetpack dataset, read in place (no copy into an ASE database).

A `ConformerIndex` holds, in memory, what locates and labels each conformer: its shard file,
atom rows and targets (about 30 bytes per conformer plus 8 per target). Atoms (numbers and
positions, the bulk of a shard) are read lazily from HDF5 per item, each loader process
opening its own file handles, so datasets larger than memory train.

Items are schnetpack input dictionaries: atomic numbers, positions in Bohr, a zero cell and
no periodicity (molecules), the atom count, the item index and targets in eV, each a tensor;
`schnetpack.data.loader._atoms_collate_fn` (used by `AtomsLoader`) concatenates them and
adds idx_m. Splits are by molecule: the pipeline assigns molecules to train/val/test by id,
and a file without the run's index is split here by the same rule (`dftgen.data.splits`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import schnetpack.properties as P
import torch

from dftgen.data.splits import assign
from dftgen.train.schnet.spec import Target

ZMAX = 100  # length of schnetpack's atom-reference tables


@dataclasses.dataclass
class ConformerIndex:
    """Conformers of shard files: which file, which atom rows, which molecule, what labels.

    files: the shard paths; file, atom_start, atom_count, molecule_id: (n,) per conformer;
    targets: (n, n_targets) in eV, columns in the order of `target_names`.
    """

    files: list[Path]
    file: np.ndarray
    atom_start: np.ndarray
    atom_count: np.ndarray
    molecule_id: np.ndarray
    targets: np.ndarray
    target_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.file)

    def take(self, rows) -> ConformerIndex:
        return dataclasses.replace(
            self, file=self.file[rows], atom_start=self.atom_start[rows],
            atom_count=self.atom_count[rows], molecule_id=self.molecule_id[rows],
            targets=self.targets[rows])

    @property
    def n_molecules(self) -> int:
        return len(np.unique(self.molecule_id))

    def element_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(elements, counts): the atomic numbers present, and (n, len(elements)) how many
        atoms of each every conformer has (reads each file's z column once)."""
        import h5py

        rows, numbers = [], []
        for k, path in enumerate(self.files):
            mine = np.flatnonzero(self.file == k)
            if not len(mine):
                continue
            with h5py.File(path, "r") as f:
                z = f["atoms/z"][()]
            sizes = self.atom_count[mine].astype(np.int64)
            first = np.cumsum(sizes) - sizes  # where each conformer's atoms begin in the gather
            atoms = np.arange(sizes.sum()) + np.repeat(self.atom_start[mine] - first, sizes)
            rows.append(np.repeat(mine, sizes))
            numbers.append(z[atoms].astype(np.int64))
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        numbers = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
        elements, column = np.unique(numbers, return_inverse=True)
        counts = np.zeros((len(self), len(elements)))
        np.add.at(counts, (rows, column), 1.0)
        return elements, counts


def index_files(files: list[Path], targets: list[Target], include_unconverged: bool = False) -> ConformerIndex:
    """The conformer index of shard files; without include_unconverged, rows that did not
    converge or have a zero gap are left out, as QM1B did."""
    import h5py

    parts = []
    for k, path in enumerate(files):
        with h5py.File(path, "r") as f:
            c = f["conformers"]
            keep = np.ones(len(c["molecule_id"]), bool)
            if not include_unconverged:
                keep = c["converged"][()] & (c["gap_ev"][()] != 0.0)
            parts.append((
                np.full(keep.sum(), k, np.int32), c["atom_start"][()][keep],
                c["atom_count"][()][keep].astype(np.int32), c["molecule_id"][()][keep],
                np.stack([c[t.column][()][keep] for t in targets], axis=1).astype(np.float64),
            ))
    columns = [np.concatenate(col) for col in zip(*parts)] if parts else \
        [np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64),
         np.zeros((0, len(targets)))]
    return ConformerIndex(list(files), *columns, tuple(t.name for t in targets))


def load_splits(path: str | os.PathLike, targets: list[Target],
                include_unconverged: bool = False) -> dict[str, ConformerIndex]:
    """train, val and test conformer indexes of a run directory, shards folder or shard file.

    The dataset's own splits are used when they include train and val; otherwise its
    conformers are split here by molecule, as `dftgen.data.splits.assign` decides.
    """
    from dftgen.data import open_dataset

    with open_dataset(path) as dataset:
        files = {name: dataset.split(name).files for name in dataset.split_names}
        splits = {name: index_files(f, targets, include_unconverged) for name, f in files.items()}
        if len(splits.get("train", [])) and len(splits.get("val", [])):
            return splits
        everything = index_files(dataset.files, targets, include_unconverged)
        masks = assign(everything.molecule_id, dataset.attrs, needed=("train", "val"))
    return {name: everything.take(np.flatnonzero(mask)) for name, mask in masks.items()}


def molecule_subset(index: ConformerIndex, n_conformers: int, seed: int = 0) -> ConformerIndex:
    """The first n_conformers after shuffling whole molecules: subsets of growing size are
    nested, and a molecule's conformers stay together (the last one may be cut)."""
    if n_conformers > len(index):
        raise ValueError(f"asked for {n_conformers} training conformers; the training split has {len(index)}")
    ids = np.unique(index.molecule_id)
    rank = dict(zip(np.random.default_rng(seed).permutation(ids).tolist(), range(len(ids))))
    order = np.argsort([rank[i] for i in index.molecule_id.tolist()], kind="stable")
    return index.take(order[:n_conformers])


@dataclasses.dataclass(frozen=True)
class Offsets:
    """What schnetpack's RemoveOffsets subtracts from a target and AddOffsets adds back,
    and the scale the remainder is divided by for training.

    mean: eV per atom (extensive targets) or eV; atomrefs: (ZMAX,) eV per element, fitted by
    least squares on element counts (extensive targets), else None; std: eV, of the target
    after offsets.
    """

    mean: float
    std: float
    atomrefs: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std,
                "atomrefs": None if self.atomrefs is None else self.atomrefs.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Offsets:
        refs = d.get("atomrefs")
        return cls(float(d["mean"]), float(d["std"]), None if refs is None else np.asarray(refs, np.float64))


def fit_offsets(index: ConformerIndex, targets: list[Target]) -> dict[str, Offsets]:
    """Offsets of each target from the training conformers."""
    out = {}
    for k, target in enumerate(targets):
        y = index.targets[:, k]
        if not target.extensive:
            out[target.name] = Offsets(float(y.mean()), _std(y))
            continue
        elements, counts = index.element_counts()
        refs = np.zeros(ZMAX)
        refs[elements] = np.linalg.lstsq(counts, y, rcond=None)[0]
        residual = y - counts @ refs[elements]
        n_atoms = index.atom_count.astype(np.float64)
        mean = float(np.mean(residual / n_atoms))
        out[target.name] = Offsets(mean, _std(residual - mean * n_atoms), refs)
    return out


def _std(values: np.ndarray) -> float:
    """Standard deviation, 1 when there is no spread to measure (a single value)."""
    std = float(np.std(values))
    return std if std > 0 else 1.0


def atoms_input(numbers, positions_bohr, idx: int = 0, targets: dict[str, float] | None = None) -> dict:
    """schnetpack's input dictionary of one molecule (float64; transforms cast it)."""
    numbers = np.asarray(numbers, np.int64)
    item = {
        P.idx: torch.tensor([idx]),
        P.Z: torch.from_numpy(numbers),
        P.R: torch.from_numpy(np.asarray(positions_bohr, np.float64).reshape(-1, 3)),
        P.n_atoms: torch.tensor([len(numbers)]),
        P.cell: torch.zeros((1, 3, 3), dtype=torch.float64),
        P.pbc: torch.zeros(3, dtype=torch.bool),
    }
    for name, value in (targets or {}).items():
        item[name] = torch.tensor([value], dtype=torch.float64)
    return item


class ShardConformers(torch.utils.data.Dataset):
    """A torch Dataset of schnetpack input dictionaries over a conformer index.

    transforms: schnetpack preprocessing transforms applied to each item in order
    (neighbour list, offsets, casting). HDF5 handles are opened on first use in each
    process (h5py handles must not cross a fork) and dropped when pickled.
    """

    def __init__(self, index: ConformerIndex, transforms: list):
        self.index = index
        self.transforms = list(transforms)
        self._handles: dict[int, object] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.index)

    def _file(self, k: int):
        import h5py

        if self._pid != os.getpid():  # a forked loader worker: open files of its own
            self._handles, self._pid = {}, os.getpid()
        if k not in self._handles:
            self._handles[k] = h5py.File(self.index.files[k], "r")
        return self._handles[k]

    def __getitem__(self, i: int) -> dict:
        ix = self.index
        f = self._file(int(ix.file[i]))
        start = int(ix.atom_start[i])
        stop = start + int(ix.atom_count[i])
        item = atoms_input(f["atoms/z"][start:stop], f["atoms/positions_bohr"][start:stop], i,
                           dict(zip(ix.target_names, ix.targets[i].tolist())))
        for transform in self.transforms:
            item = transform(item)
        return item

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handles": {}}
