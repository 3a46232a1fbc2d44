"""Export to Parquet in QM1B's schema, one file per split.

Columns (QM1B's names and units): smile (SMILES), atoms (element symbols concatenated, e.g.
"COHHHH"), z (atomic numbers), energy, homo, lumo (eV), N (number of atomic orbitals), std
(std of the last five iteration energies, eV), y (HOMO-LUMO gap, eV), pos (positions in
Bohr, flattened x1 y1 z1 x2 ...). Values are float64, as stored in the shards.

QM1B dropped rows whose std exceeded 0.01 eV or whose gap was zero; by default the export
does the same with the run's own criterion (converged == False) and a zero gap.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dftgen.atomic_files import atomic_path
from dftgen.data.dataset import Dataset
from dftgen.elements import SYMBOLS

SCHEMA_FIELDS = ("smile", "atoms", "z", "energy", "homo", "lumo", "N", "std", "y", "pos")


def qm1b_schema():
    import pyarrow as pa

    return pa.schema([
        ("smile", pa.string()), ("atoms", pa.string()), ("z", pa.list_(pa.int8())),
        ("energy", pa.float64()), ("homo", pa.float64()), ("lumo", pa.float64()),
        ("N", pa.int32()), ("std", pa.float64()), ("y", pa.float64()), ("pos", pa.list_(pa.float64())),
    ])


def to_parquet(dataset: Dataset, out_dir: str | os.PathLike, include_unconverged: bool = False,
               chunk_size: int = 65536) -> dict[str, int]:
    """Write `<out_dir>/<split>.parquet` for each split; returns rows written per split."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    schema = qm1b_schema()
    rows = {}
    for name in dataset.split_names:
        path = out_dir / f"{name}.parquet"
        rows[name] = 0
        with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
            for chunk in dataset.split(name).chunks(chunk_size):
                table = pa.Table.from_pydict(_qm1b_columns(chunk, include_unconverged), schema=schema)
                writer.write_table(table)
                rows[name] += table.num_rows
    return rows


def _qm1b_columns(chunk: dict, include_unconverged: bool) -> dict:
    keep = np.ones(len(chunk["energy_ev"]), bool)
    if not include_unconverged:
        keep = chunk["converged"] & (chunk["gap_ev"] != 0.0)
    offsets = chunk["atom_offsets"]
    z = chunk["z"]
    pos = chunk["positions_bohr"]
    symbols = np.array(SYMBOLS, dtype=object)
    rows = np.flatnonzero(keep)
    return {
        "smile": [str(s) for s in chunk["smiles"][rows]],
        "atoms": ["".join(symbols[z[offsets[i]:offsets[i + 1]]]) for i in rows],
        "z": [z[offsets[i]:offsets[i + 1]].tolist() for i in rows],
        "energy": chunk["energy_ev"][rows],
        "homo": chunk["homo_ev"][rows],
        "lumo": chunk["lumo_ev"][rows],
        "N": chunk["nao"][rows],
        "std": chunk["energy_std_last5_ev"][rows],
        "y": chunk["gap_ev"][rows],
        "pos": [pos[offsets[i]:offsets[i + 1]].ravel().tolist() for i in rows],
    }
