"""Datasets: the HDF5 shard format, reading shards, splits by molecule (`dftgen.data.splits`)
and the exports (QM1B Parquet, extxyz, ASE databases).

`open_dataset(path)` opens a generated dataset (a run directory, its shards folder, or one
shard file) for random access by conformer, chunked iteration and splits.
"""

from dftgen.data.dataset import Dataset, open_dataset

__all__ = ["Dataset", "open_dataset"]
