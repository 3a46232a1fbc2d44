"""The plan: molecules grouped into shape buckets and cut into tasks, frozen with ids.

A shape bucket holds molecules whose basis sets have equal `shape_key` (in STO-3G, with
heavy atoms before hydrogens, that is the pair (heavy atoms, hydrogens) for C/N/O/F), so
every task is one bucket and shares its integral programs; the grid programs follow the grid's
size, which the elements decide (`precompile.program_shapes`). Tasks hold whole
molecules (all conformers of a molecule in one task) and about `task_conformers`
conformers. The plan is written once per run directory (plan.json) and read back on
restart, so task ids never change under a resumed run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from dftgen.atomic_files import write_text_atomically
from dftgen import basis as basis_mod
from dftgen.molecule import Molecule
from dftgen.pipeline.ingest import MoleculeEntry
from dftgen.pipeline.spec import PipelineSpec

PLAN_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Bucket:
    """key: 8 hex digits naming the shape; the rest describes it for people."""

    key: str
    n_heavy: int
    n_hydrogens: int
    nao: int

    @property
    def label(self) -> str:
        return f"{self.n_heavy} heavy + {self.n_hydrogens} H (nao {self.nao})"


@dataclasses.dataclass(frozen=True)
class Task:
    id: str
    bucket: str
    molecules: tuple[MoleculeEntry, ...]

    def subset(self, molecules, suffix: str) -> Task:
        """A task of some of this task's molecules, with id `<id><suffix>`."""
        return Task(f"{self.id}{suffix}", self.bucket, tuple(molecules))


@dataclasses.dataclass
class Plan:
    config_hash: str
    spec: dict  # the PipelineSpec that made it, as JSON values
    buckets: dict[str, Bucket]
    tasks: list[Task]
    ingest_counts: dict[str, int]

    @property
    def molecules(self) -> list[MoleculeEntry]:
        return [m for t in self.tasks for m in t.molecules]

    def save(self, path: str | os.PathLike) -> None:
        """Write plan.json atomically (temporary name, then rename)."""
        data = {
            "plan_version": PLAN_VERSION,
            "config_hash": self.config_hash,
            "spec": self.spec,
            "ingest_counts": self.ingest_counts,
            "buckets": [dataclasses.asdict(b) for b in self.buckets.values()],
            "tasks": [{"id": t.id, "bucket": t.bucket,
                       "molecules": [[m.id, m.smiles, list(m.numbers)] for m in t.molecules]}
                      for t in self.tasks],
        }
        write_text_atomically(path, json.dumps(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Plan:
        data = json.loads(Path(path).read_text())
        if data.get("plan_version") != PLAN_VERSION:
            raise ValueError(f"plan {path}: version {data.get('plan_version')}, expected {PLAN_VERSION}")
        tasks = [Task(t["id"], t["bucket"], tuple(MoleculeEntry(int(i), s, tuple(z)) for i, s, z in t["molecules"]))
                 for t in data["tasks"]]
        buckets = {b["key"]: Bucket(**b) for b in data["buckets"]}
        return cls(data["config_hash"], data["spec"], buckets, tasks, data["ingest_counts"])


def bucket_of(entry: MoleculeEntry, basis: str, shells: str = "spherical") -> Bucket:
    """The shape bucket of a molecule in a basis with spherical or Cartesian `shells`
    (positions do not matter for shapes: the atoms are placed on a line, 2 Bohr apart)."""
    line = np.outer(np.arange(len(entry.numbers)), [2.0, 0.0, 0.0])
    atoms = Molecule(np.array(entry.numbers), line, name=entry.smiles)
    bas = basis_mod.build(atoms, basis, shells)
    key = hashlib.sha256(repr(bas.shape_key).encode()).hexdigest()[:8]
    return Bucket(key, entry.n_heavy, entry.n_hydrogens, bas.nao)


def make_plan(molecules: list[MoleculeEntry], spec: PipelineSpec, ingest_counts: dict[str, int]) -> Plan:
    """Group molecules by bucket (buckets by size, molecules in source order) and cut each
    bucket into tasks of whole molecules; task ids are `<bucket key>-<number in bucket>`."""
    settings = spec.dft.settings
    per_task = max(1, spec.plan.task_conformers // spec.conformers.per_molecule)
    buckets: dict[str, Bucket] = {}
    members: dict[str, list[MoleculeEntry]] = {}
    for entry in molecules:
        bucket = bucket_of(entry, settings.basis, settings.shells)
        buckets.setdefault(bucket.key, bucket)
        members.setdefault(bucket.key, []).append(entry)
    order = sorted(buckets.values(), key=lambda b: (b.nao, b.n_heavy, b.key))
    tasks = []
    for bucket in order:
        group = members[bucket.key]
        for k, start in enumerate(range(0, len(group), per_task)):
            tasks.append(Task(f"{bucket.key}-{k:05d}", bucket.key, tuple(group[start:start + per_task])))
    return Plan(spec.config_hash(), json.loads(spec.to_json()), {b.key: b for b in order}, tasks,
                dict(ingest_counts))
