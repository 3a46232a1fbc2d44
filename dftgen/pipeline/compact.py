"""Compaction: part files -> shards split by molecule, a failure table and an index.

Parts are read in name order; each molecule is kept once (the first part holding it), so a
molecule computed twice (a worker that died after renaming its part, then ran again) still
appears once. Molecules are assigned to splits by their id (`dftgen.data.splits`), so all
conformers of a molecule share a split and the assignment never depends on the order of work.
Shards
(`shards/<split>-NNNNN.h5`) close at the first part boundary past the target size; the failure table
(`shards/failures.h5`) keeps final failures and retryable ones of molecules that never
succeeded; `shards/index.json` lists the shards with their counts and is written last.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from dftgen.data import shards
from dftgen.data.shards import Block
from dftgen.data.splits import split_of
from dftgen.data.verify import file_sha256
from dftgen.pipeline.resume import part_files


def compact(run_dir: str | Path, splits: list[tuple[str, float]], shard_mb: float, attrs: dict) -> dict:
    """Rebuild `run_dir/shards` from `run_dir/parts`; returns the index written."""
    run_dir = Path(run_dir)
    out = run_dir / "shards"
    tmp_out = run_dir / ".shards.tmp"
    if tmp_out.exists():
        shutil.rmtree(tmp_out)
    tmp_out.mkdir(parents=True)
    limit = shard_mb * 2**20
    seen: set[int] = set()
    pending = {name: [] for name, _ in splits}
    pending_bytes = dict.fromkeys(pending, 0)
    written = {name: [] for name, _ in splits}
    failure_blocks = []

    def flush(split: str) -> None:
        block = Block.concatenate(pending[split])
        pending[split], pending_bytes[split] = [], 0
        if block.n_molecules == 0:
            return
        order = np.argsort(block.molecules["id"], kind="stable")
        block = block.take_molecules(order)
        block.failures = Block.empty().failures
        name = f"{split}-{len(written[split]):05d}.h5"
        shards.write(tmp_out / name, block, {**attrs, "split": split})
        written[split].append({"file": name, "molecules": block.n_molecules,
                               "conformers": block.n_conformers,
                               "sha256": file_sha256(tmp_out / name)})

    for path in part_files(run_dir / "parts"):
        block, _ = shards.read(path)
        failure_blocks.append(block.failures)
        fresh = np.array([i not in seen for i in block.molecules["id"]], dtype=bool)
        seen.update(int(i) for i in block.molecules["id"])
        block = block.take_molecules(fresh)
        assigned = split_of(block.molecules["id"], splits)
        for split in pending:
            part = block.take_molecules(assigned == split)
            if part.n_molecules:
                pending[split].append(part)
                pending_bytes[split] += part.nbytes
                if pending_bytes[split] >= limit:
                    flush(split)
    for split in pending:
        flush(split)
    failures = _failure_table(failure_blocks, seen)
    failure_block = Block.empty()
    failure_block.failures = failures
    shards.write(tmp_out / "failures.h5", failure_block, attrs)
    index = {
        "schema_version": shards.SCHEMA_VERSION,
        "config_hash": attrs.get("config_hash"),
        "splits": written,
        "failures": "failures.h5",
        "n_failures": int(len(failures["molecule_id"])),
        "failures_by_stage": {str(k): int(v) for k, v in zip(*np.unique(failures["stage"].astype(str),
                                                                           return_counts=True))},
    }
    (tmp_out / "index.json").write_text(json.dumps(index, indent=1))
    _swap(tmp_out, out)
    return index


def _failure_table(blocks: list[dict], succeeded: set[int]) -> dict[str, np.ndarray]:
    """All failure rows, each (molecule, conformer, stage) once, without retryable ones of
    molecules that later succeeded or failed for good."""
    table = Block.concatenate([Block(Block.empty().molecules, Block.empty().conformers,
                                     Block.empty().atoms, b) for b in blocks]).failures
    n = len(table["molecule_id"])
    final = {int(i) for i, c, r in zip(table["molecule_id"], table["conformer"], table["retryable"])
             if c < 0 and not r}
    keep, seen = np.zeros(n, bool), set()
    for row in range(n):
        mid = int(table["molecule_id"][row])
        key = (mid, int(table["conformer"][row]), str(table["stage"][row]))
        superseded = bool(table["retryable"][row]) and (mid in succeeded or mid in final)
        if key not in seen and not superseded:
            keep[row] = True
            seen.add(key)
    return {k: v[keep] for k, v in table.items()}


def _swap(new: Path, current: Path) -> None:
    """Replace the folder `current` by `new` (two renames; readers see old or new shards)."""
    old = current.with_name(".shards.old")
    if old.exists():
        shutil.rmtree(old)
    if current.exists():
        os.replace(current, old)
    os.replace(new, current)
    if old.exists():
        shutil.rmtree(old)
