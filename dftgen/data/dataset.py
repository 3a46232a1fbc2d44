"""Reading a generated dataset: random access by conformer, chunked iteration, splits.

    ds = dftgen.data.open_dataset("datasets/default-0123456789ab")
    len(ds), ds.n_molecules, ds.split_names        # conformers, molecules, ["train", ...]
    row = ds[0]                                     # one conformer as a dict (eV, Bohr)
    for chunk in ds.split("val").chunks(4096): ...  # columns of many conformers at once
    ds.failures                                     # the failure table (columns)
    ds.attrs["settings"]                            # numerical settings, config hash, versions

Shards are opened lazily and kept open; per-file molecule tables and conformer counts are
read once. See `dftgen.data.shards` for the schema.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dftgen.data import shards

_CONFORMER_FIELDS = [c for c in shards.CONFORMER_COLUMNS if c != "atom_count"]


def open_dataset(path: str | os.PathLike) -> Dataset:
    """A dataset from a run directory, its `shards/` folder, or a single shard or part file."""
    path = Path(path)
    if path.is_file():
        return Dataset({"all": [path]}, None)
    folder = path / "shards" if (path / "shards" / "index.json").is_file() else path
    index_file = folder / "index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"{path} holds no dataset (no shards/index.json); "
                                "run `dftgen generate` to make one")
    index = json.loads(index_file.read_text())
    splits = {name: [folder / s["file"] for s in entries] for name, entries in index["splits"].items()}
    failures = folder / index["failures"] if index.get("failures") else None
    return Dataset(splits, failures)


class _Shard:
    """One open file with its molecule table in memory."""

    def __init__(self, path: Path):
        problems = shards.verify(path)
        if problems:
            raise shards.ShardError(problems[0])
        self.path = path
        self.file = shards.open_checked(path)
        molecules = self.file["molecules"]
        self.molecule_ids = molecules["id"][()]
        self.smiles = molecules["smiles"].asstr()[()]
        self.conformer_start = molecules["conformer_start"][()]
        self.n_conformers = len(self.file["conformers/molecule_id"])

    def row(self, i: int) -> dict:
        conformers, atoms = self.file["conformers"], self.file["atoms"]
        out = {name: _scalar(conformers[name][i]) for name in _CONFORMER_FIELDS}
        m = int(np.searchsorted(self.conformer_start, i, side="right")) - 1
        out["smiles"] = str(self.smiles[m])
        start, count = int(conformers["atom_start"][i]), int(conformers["atom_count"][i])
        for name in atoms:
            out[name] = atoms[name][start:start + count]
        return out

    def chunk(self, begin: int, end: int) -> dict:
        conformers, atoms = self.file["conformers"], self.file["atoms"]
        out = {name: conformers[name][begin:end] for name in _CONFORMER_FIELDS}
        m = np.searchsorted(self.conformer_start, np.arange(begin, end), side="right") - 1
        out["smiles"] = self.smiles[m].astype(object)
        starts = conformers["atom_start"][begin:end]
        counts = conformers["atom_count"][begin:end]
        lo = int(starts[0]) if len(starts) else 0
        hi = int(starts[-1] + counts[-1]) if len(starts) else 0
        for name in atoms:
            out[name] = atoms[name][lo:hi]
        out["atom_offsets"] = np.concatenate([starts - lo, [hi - lo]]).astype(np.int64)
        return out


def _scalar(value):
    return value.item() if isinstance(value, np.generic) else value


class Dataset:
    """Conformers of a list of shard files per split, in file order."""

    def __init__(self, splits: dict[str, list[Path]], failures_file: Path | None):
        self._splits = splits
        self._failures_file = failures_file
        self._files = [p for files in splits.values() for p in files]
        self._open: dict[Path, _Shard] = {}
        self._ends: list[int] | None = None

    # -- structure --------------------------------------------------------------------------

    @property
    def split_names(self) -> list[str]:
        return list(self._splits)

    @property
    def files(self) -> list[Path]:
        """The shard files behind this dataset (or split), in reading order."""
        return list(self._files)

    def split(self, name: str) -> Dataset:
        if name not in self._splits:
            raise KeyError(f"no split {name!r}; splits: {self.split_names}")
        return Dataset({name: self._splits[name]}, self._failures_file)

    def _shard(self, path: Path) -> _Shard:
        if path not in self._open:
            self._open[path] = _Shard(path)
        return self._open[path]

    def _cumulative(self) -> list[int]:
        if self._ends is None:
            self._ends = list(np.cumsum([self._shard(p).n_conformers for p in self._files], dtype=np.int64))
        return self._ends

    def __len__(self) -> int:
        ends = self._cumulative()
        return int(ends[-1]) if ends else 0

    @property
    def n_molecules(self) -> int:
        return sum(len(self._shard(p).molecule_ids) for p in self._files)

    @property
    def molecule_ids(self) -> np.ndarray:
        ids = [self._shard(p).molecule_ids for p in self._files]
        return np.concatenate(ids) if ids else np.zeros(0, np.int64)

    @property
    def attrs(self) -> dict:
        """File attributes of the first shard: units, versions, settings, config hash."""
        if self._files:
            return shards.read_attrs(self._shard(self._files[0]).file)
        return shards.read(self._failures_file)[1] if self._failures_file else {}

    @property
    def failures(self) -> dict[str, np.ndarray]:
        """The failure table (columns of `dftgen.data.shards.FAILURE_COLUMNS`)."""
        if self._failures_file is None:
            block = shards.Block.concatenate([shards.read(p)[0] for p in self._files])
            return block.failures
        return shards.read(self._failures_file)[0].failures

    # -- access -----------------------------------------------------------------------------

    def __getitem__(self, i: int) -> dict:
        """Conformer i: its conformer columns, smiles, and its atoms' arrays."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"conformer {i} out of range for a dataset of {n}")
        i %= n
        ends = self._cumulative()
        k = bisect.bisect_right(ends, i)
        start = ends[k - 1] if k else 0
        return self._shard(self._files[k]).row(int(i - start))

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self[i]

    def chunks(self, size: int = 4096) -> Iterator[dict]:
        """Columns of up to `size` conformers at a time (never across files); atoms are
        concatenated with `atom_offsets` (n + 1) locating each conformer's atoms."""
        for path in self._files:
            shard = self._shard(path)
            for begin in range(0, shard.n_conformers, size):
                yield shard.chunk(begin, min(begin + size, shard.n_conformers))

    def close(self) -> None:
        for shard in self._open.values():
            shard.file.close()
        self._open.clear()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
