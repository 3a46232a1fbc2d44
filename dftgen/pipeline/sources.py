"""Where SMILES come from: qm9pack's QM9, GDB-11 `.smi` files, SMILES text files, CSV.

Every source yields `RawSmiles(index, smiles, origin)` in file order; `origin` says where
(file and line) so that a bad entry can be traced. Sources do no chemistry: parsing and
filtering happen in `dftgen.pipeline.ingest`. A heavy-atom range may be passed as a hint
to skip what cannot pass the filter cheaply (QM9's stoichiometry, GDB-11's per-size files).
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from dftgen.pipeline.spec import SourceSection

QM9_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")


class SourceError(ValueError):
    """A source that cannot be read: missing file, missing column."""


class RawSmiles(NamedTuple):
    index: int  # position in the source, from 0
    smiles: str
    origin: str  # "file:line" or "qm9:<index>"


def read(spec: SourceSection, heavy_atoms: tuple[int, int] | None = None) -> Iterator[RawSmiles]:
    """The SMILES of a source in order; `heavy_atoms` (min, max) lets sources skip early."""
    if spec.kind == "qm9":
        return _qm9(heavy_atoms)
    if spec.kind == "smiles":
        return _smiles_files([_existing(spec.path)])
    if spec.kind == "gdb11":
        return _smiles_files(_gdb11_files(_existing(spec.path), heavy_atoms))
    if spec.kind == "csv":
        return _csv(_existing(spec.path), spec.column)
    raise SourceError(f"unknown source kind {spec.kind!r}")


def qm9_folder() -> Path:
    """qm9pack's data folder, found without importing qm9pack (its __init__ needs
    pkg_resources, which current setuptools no longer ships)."""
    found = importlib.util.find_spec("qm9pack")
    if found is None or not found.submodule_search_locations:
        raise SourceError("the qm9 source needs the qm9pack package: pip install qm9pack")
    folder = Path(list(found.submodule_search_locations)[0]) / "data"
    missing = [name for name in QM9_FILES if not (folder / name).is_file()]
    if missing:
        raise SourceError(f"qm9pack data files {missing} are missing from {folder}")
    return folder


def _qm9(heavy_atoms: tuple[int, int] | None) -> Iterator[RawSmiles]:
    """QM9 in qm9pack's order. Stoichiometry is "[nH,nC,nN,nO,nF]", so the heavy-atom hint
    is applied before any SMILES is parsed."""
    import pyarrow.csv as pacsv

    folder = qm9_folder()
    index = 0
    for name in QM9_FILES:
        table = pacsv.read_csv(
            folder / name, convert_options=pacsv.ConvertOptions(include_columns=["SMILES", "Stoichiometry"])
        )
        for smiles, stoich in zip(table.column("SMILES").to_pylist(), table.column("Stoichiometry").to_pylist()):
            if heavy_atoms is not None:
                n_heavy = sum(int(x) for x in stoich.strip("[]").split(",")[1:])
                if not heavy_atoms[0] <= n_heavy <= heavy_atoms[1]:
                    index += 1
                    continue
            yield RawSmiles(index, smiles, f"qm9:{index}")
            index += 1


def _smiles_files(paths: list[Path]) -> Iterator[RawSmiles]:
    """Text files with one molecule per line, the SMILES first (anything after whitespace,
    such as a GDB-11 identifier, is ignored); blank lines and lines starting with # skipped."""
    index = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for lineno, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                yield RawSmiles(index, fields[0], f"{path.name}:{lineno}")
                index += 1


_GDB11_NAME = re.compile(r"gdb11_size(\d+)\.smi$")


def _gdb11_files(path: Path, heavy_atoms: tuple[int, int] | None) -> list[Path]:
    """A single .smi file, or the gdb11_sizeNN.smi files of a folder (only the sizes in the
    heavy-atom range when one is given), in size order."""
    if path.is_file():
        return [path]
    sized = []
    for candidate in path.iterdir():
        match = _GDB11_NAME.search(candidate.name)
        if match:
            size = int(match.group(1))
            if heavy_atoms is None or heavy_atoms[0] <= size <= heavy_atoms[1]:
                sized.append((size, candidate))
    if not sized:
        raise SourceError(f"no gdb11_sizeNN.smi files for heavy atoms {heavy_atoms} in {path}")
    return [p for _, p in sorted(sized)]


def _csv(path: Path, column: str) -> Iterator[RawSmiles]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        names = {name.lower(): name for name in reader.fieldnames or []}
        if column.lower() not in names:
            raise SourceError(f"CSV {path}: no column {column!r} (columns: {reader.fieldnames})")
        key = names[column.lower()]
        for index, row in enumerate(reader):
            yield RawSmiles(index, (row[key] or "").strip(), f"{path.name}:{index + 2}")


def _existing(path: str | None) -> Path:
    if not path or not Path(path).exists():
        raise SourceError(f"source path {path!r} does not exist")
    return Path(path)
