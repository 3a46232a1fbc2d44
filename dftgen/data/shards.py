"""The shard format: HDF5 files of molecules, conformers, atoms and failures.

One file holds four groups of equal-length columns (docs/dataset-format.md):

    molecules/   id, smiles, seed, conformer_start, conformer_count        one row per molecule
    conformers/  molecule_id, conformer, energy_ev, dispersion_ev, homo_ev, lumo_ev, gap_ev,
                 converged, iterations, energy_std_last5_ev, nao, dipole_debye (3),
                 relax_steps, relax_max_force_ev_ang, atom_start, atom_count
    atoms/       z, positions_bohr (3), mulliken_charges_e, [forces_ev_bohr (3)]
    failures/    molecule_id, smiles, conformer, stage, error, retryable, message

Ragged data is concatenated with ranges (start, count): a molecule's conformers are rows
conformer_start .. conformer_start + conformer_count of conformers/, a conformer's atoms are
rows atom_start .. atom_start + atom_count of atoms/. Every column carries a `units`
attribute and the SHA-256 of its values (`sha256`, checked whenever the file is read); the
file carries schema_version, code_version, config_hash, the numerical settings (JSON), the
spec (JSON) and its provenance (JSON: package versions, git commit, machine). Energies are
in eV and positions in Bohr, as QM1B.

Part files written by pipeline tasks and the compacted shards share this format. Files are
written under a temporary name and renamed, so a file that exists is complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from dftgen.atomic_files import atomic_path
from dftgen.data.provenance import provenance

SCHEMA_VERSION = 2
_JSON_ATTRS = "json_attributes"  # names the attributes stored as JSON text (dicts, lists)
GROUPS = ("molecules", "conformers", "atoms", "failures")


class ShardError(OSError):
    """A shard or part file that cannot be trusted: unreadable, truncated, wrong schema, or a
    column that fails its checksum. The message names the file."""

# column -> (dtype, trailing shape, units); "str" is a UTF-8 variable-length string
MOLECULE_COLUMNS = {
    "id": ("int64", (), "dimensionless: 60-bit id from the SHA-256 of the canonical SMILES"),
    "smiles": ("str", (), "canonical SMILES (RDKit)"),
    "seed": ("int64", (), "RDKit ETKDGv3 random seed of the molecule's conformers"),
    "conformer_count": ("int32", (), "conformer rows of the molecule"),
}
CONFORMER_COLUMNS = {
    "molecule_id": ("int64", (), "id of the molecule (molecules/id)"),
    "conformer": ("int32", (), "conformer number within the molecule (RDKit conformer id)"),
    "energy_ev": ("float64", (), "eV: total electronic + nuclear energy, dispersion included"),
    "dispersion_ev": ("float64", (), "eV: the functional's dispersion correction (0 without one)"),
    "homo_ev": ("float64", (), "eV"),
    "lumo_ev": ("float64", (), "eV"),
    "gap_ev": ("float64", (), "eV: LUMO - HOMO"),
    "converged": ("bool", (), "fixed mode: std of the last five energies < threshold; converge mode: tolerances met"),
    "iterations": ("int32", (), "SCF iterations run"),
    "energy_std_last5_ev": ("float64", (), "eV: std of the last five iteration energies"),
    "nao": ("int32", (), "number of atomic orbitals (basis functions)"),
    "dipole_debye": ("float64", (3,), "Debye, about the origin of positions_bohr"),
    "relax_steps": ("int32", (), "BFGS steps of the DFT relaxation (0: not relaxed)"),
    "relax_max_force_ev_ang": ("float64", (), "eV/Angstrom: largest force after the DFT "
                                              "relaxation (NaN: not relaxed)"),
    "atom_count": ("int32", (), "atom rows of the conformer"),
}
ATOM_COLUMNS = {
    "z": ("int8", (), "atomic number"),
    "positions_bohr": ("float64", (3,), "Bohr"),
    "mulliken_charges_e": ("float64", (), "e (elementary charge)"),
}
FORCES_COLUMN = ("float64", (3,), "eV/Bohr: -dE/dR")
FAILURE_COLUMNS = {
    "molecule_id": ("int64", (), "id of the molecule (from the raw SMILES when it did not parse)"),
    "smiles": ("str", (), "canonical SMILES, or the raw text when it did not parse"),
    "conformer": ("int32", (), "conformer number, -1 for the whole molecule"),
    "stage": ("str", (), "parse | ingest | embed | relax | dft | scf | worker | task"),
    "error": ("str", (), "exception class name"),
    "retryable": ("bool", (), "true: attempted again when the run is restarted"),
    "message": ("str", (), "what went wrong"),
}


def _columns(group: str, with_forces: bool = False) -> dict:
    columns = {"molecules": MOLECULE_COLUMNS, "conformers": CONFORMER_COLUMNS,
               "atoms": ATOM_COLUMNS, "failures": FAILURE_COLUMNS}[group]
    if group == "atoms" and with_forces:
        columns = {**columns, "forces_ev_bohr": FORCES_COLUMN}
    return columns


def _empty(group: str, with_forces: bool = False) -> dict[str, np.ndarray]:
    return {name: np.zeros((0, *shape), dtype=object if dt == "str" else dt)
            for name, (dt, shape, _) in _columns(group, with_forces).items()}


@dataclasses.dataclass
class Block:
    """Columns of the four groups in memory (numpy arrays; strings as object arrays).

    Ranges are kept as counts only (`conformer_count`, `atom_count`); starts follow from
    cumulative sums, so blocks concatenate without rewriting offsets.
    """

    molecules: dict[str, np.ndarray]
    conformers: dict[str, np.ndarray]
    atoms: dict[str, np.ndarray]
    failures: dict[str, np.ndarray]

    @classmethod
    def empty(cls, with_forces: bool = False) -> Block:
        return cls(_empty("molecules"), _empty("conformers"), _empty("atoms", with_forces), _empty("failures"))

    @property
    def n_molecules(self) -> int:
        return len(self.molecules["id"])

    @property
    def n_conformers(self) -> int:
        return len(self.conformers["molecule_id"])

    @property
    def has_forces(self) -> bool:
        return "forces_ev_bohr" in self.atoms

    @property
    def nbytes(self) -> int:
        """Approximate size on disk (numeric columns; strings counted by length)."""
        total = 0
        for group in (self.molecules, self.conformers, self.atoms, self.failures):
            for column in group.values():
                total += sum(len(s) for s in column) if column.dtype == object else column.nbytes
        return total

    def conformer_starts(self) -> np.ndarray:
        return _starts(self.molecules["conformer_count"])

    def atom_starts(self) -> np.ndarray:
        return _starts(self.conformers["atom_count"])

    def take_molecules(self, index) -> Block:
        """The molecules at `index` (indices or a boolean mask) with their conformers and
        atoms, in the order given; failures are kept whole."""
        index = np.arange(self.n_molecules)[index]
        conf_rows = _ranges(self.conformer_starts()[index], self.molecules["conformer_count"][index])
        atom_rows = _ranges(self.atom_starts()[conf_rows], self.conformers["atom_count"][conf_rows])
        return Block(
            {k: v[index] for k, v in self.molecules.items()},
            {k: v[conf_rows] for k, v in self.conformers.items()},
            {k: v[atom_rows] for k, v in self.atoms.items()},
            dict(self.failures),
        )

    def take_failures(self, index) -> Block:
        return dataclasses.replace(self, failures={k: v[index] for k, v in self.failures.items()})

    @classmethod
    def concatenate(cls, blocks: list[Block]) -> Block:
        if not blocks:
            return cls.empty()
        forces = {b.has_forces for b in blocks if b.n_conformers}
        if len(forces) > 1:
            raise ValueError("cannot concatenate blocks with and without forces")

        def cat(group):
            groups = [getattr(b, group) for b in blocks if len(next(iter(getattr(b, group).values())))]
            if not groups:
                return getattr(blocks[0], group)
            return {k: np.concatenate([g[k] for g in groups]) for k in groups[0]}

        return cls(cat("molecules"), cat("conformers"), cat("atoms"), cat("failures"))


def _starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)[:-1]]).astype(np.int64) if len(counts) \
        else np.zeros(0, np.int64)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges [s, s + c) for each (s, c), as one index array."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(np.asarray(starts, np.int64) - _starts(counts), counts)
    return np.arange(counts.sum(), dtype=np.int64) + offsets


# -- files ---------------------------------------------------------------------------------


def write(path: str | os.PathLike, block: Block, attrs: dict) -> None:
    """Write a block to an HDF5 file atomically (temporary name, then rename).

    attrs: file attributes; dict and list values are stored as JSON text (and listed in the
    `json_attributes` attribute, so they read back as dicts and lists). schema_version and
    provenance are added. conformer_start and atom_start columns are written next to the
    counts; every column gets its checksum.
    """
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION
        attrs = {"provenance": provenance(), **attrs}
        encoded = sorted(k for k, v in attrs.items() if isinstance(v, (dict, list, tuple)))
        f.attrs[_JSON_ATTRS] = json.dumps(encoded)
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value) if key in encoded else value
        for group_name in GROUPS:
            columns = getattr(block, group_name)
            group = f.create_group(group_name)
            specs = _columns(group_name, "forces_ev_bohr" in columns)
            for name, (dt, _, units) in specs.items():
                _write_column(group, name, columns[name], dt, units)
        _write_column(f["molecules"], "conformer_start", block.conformer_starts(), "int64",
                      "first row of the molecule in conformers/")
        _write_column(f["conformers"], "atom_start", block.atom_starts(), "int64",
                      "first row of the conformer in atoms/")


def _write_column(group, name: str, values: np.ndarray, dt: str, units: str) -> None:
    import h5py

    if dt == "str":
        values = np.asarray(values, dtype=object)
        data = group.create_dataset(name, data=values, dtype=h5py.string_dtype("utf-8"))
    else:
        values = np.asarray(values, dtype=dt)
        data = group.create_dataset(name, data=values)
    data.attrs["units"] = units
    data.attrs["sha256"] = checksum(values)


def checksum(values: np.ndarray) -> str:
    """SHA-256 of a column: its shape, dtype and bytes; strings as UTF-8, each ended by NUL."""
    h = hashlib.sha256(repr(values.shape).encode())
    if values.dtype.kind == "O":
        for v in values.ravel():
            h.update((v.decode() if isinstance(v, bytes) else str(v)).encode() + b"\0")
    else:
        h.update(values.dtype.str.encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def read(path: str | os.PathLike) -> tuple[Block, dict]:
    """A whole file as (Block, attrs), every column checked against its checksum; JSON
    attributes are decoded. Raises ShardError naming the file when it cannot be trusted."""
    with open_checked(path) as f:
        attrs = read_attrs(f)
        groups = {}
        for group_name in GROUPS:
            group = f[group_name]
            names = [n for n in _columns(group_name, "forces_ev_bohr" in group)]
            groups[group_name] = {n: _read_column(group[n], path) for n in names}
    return Block(**groups), attrs


def open_checked(path: str | os.PathLike):
    """An open h5py File of this format, or ShardError naming the file and the problem."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ShardError(f"{path}: not a readable shard file ({err})") from None
    version = f.attrs.get("schema_version")
    missing = [g for g in GROUPS if g not in f]
    if version != SCHEMA_VERSION or missing:
        f.close()
        problem = (f"schema version {version}, this dftgen reads {SCHEMA_VERSION}"
                   if version != SCHEMA_VERSION else f"groups {missing} missing")
        raise ShardError(f"{path}: not a dftgen shard of this schema ({problem})")
    return f


def verify(path: str | os.PathLike) -> list[str]:
    """Every problem of one file (unreadable, wrong schema, columns failing their checksums),
    each one line naming the file; empty when the file is sound."""
    try:
        with open_checked(path) as f:
            problems = []
            for group_name in GROUPS:
                for name, dataset in f[group_name].items():
                    try:
                        _read_column(dataset, path)
                    except ShardError as err:
                        problems.append(str(err))
            return problems
    except ShardError as err:
        return [str(err)]


def read_attrs(f) -> dict:
    """File attributes of an open h5py File, JSON text decoded."""
    encoded = set(json.loads(f.attrs.get(_JSON_ATTRS, "[]")))
    out = {}
    for key, value in f.attrs.items():
        if key == _JSON_ATTRS:
            continue
        if isinstance(value, bytes):
            value = value.decode()
        if key in encoded:
            value = json.loads(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _read_column(dataset, path) -> np.ndarray:
    """A column's values, checked against the checksum stored with it."""
    try:
        if dataset.dtype.kind == "O":
            values = np.array(dataset.asstr()[()], dtype=object).reshape(dataset.shape)
        else:
            values = dataset[()]
    except (OSError, ValueError) as err:
        raise ShardError(f"{path}: column {dataset.name} unreadable ({err})") from None
    stored = dataset.attrs.get("sha256")
    if stored is None or checksum(values) != stored:
        raise ShardError(f"{path}: column {dataset.name} fails its checksum (the file is "
                         "corrupt or was changed after it was written)")
    return values
