"""Resume: the finished part files are the record of what is done.

Dask's scheduler keeps no state across a restart, so a run restarted with the same command
scans `parts/`: a molecule is finished when some part holds its results or a final
failure. Every other molecule of the plan is pending, including those whose only outcome
so far is a retryable failure. A task none of whose molecules is finished runs again under
its own id; the unfinished rest of a partly finished task (bisected before, or retried)
runs as `<task id>~<hash of its molecule ids>`, a name no earlier part can have for other
molecules. A part that fails its checks (truncated, or a column failing its checksum) is
moved to `parts/quarantine/` and its molecules run again.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from dftgen.pipeline.plan import Plan, Task

QUARANTINE = "quarantine"  # sub-folder of parts/ for files that failed their checks


@dataclasses.dataclass(frozen=True)
class PartInfo:
    name: str
    task_id: str
    bucket: str
    conformers: int
    molecule_ids: frozenset[int]  # molecules with results
    final_failures: frozenset[int]  # molecules with a molecule-level, non-retryable failure
    retryable: frozenset[int]  # molecules with a molecule-level retryable failure
    failures_by_stage: dict[str, int]
    seconds: float
    finished_unix: float


@dataclasses.dataclass
class PartsIndex:
    parts: list[PartInfo]
    damaged: list[str] = dataclasses.field(default_factory=list)  # one line per bad part

    @property
    def finished(self) -> set[int]:
        out: set[int] = set()
        for p in self.parts:
            out |= p.molecule_ids | p.final_failures
        return out

    @property
    def names(self) -> set[str]:
        return {p.name for p in self.parts}


def part_files(parts_dir: str | Path) -> list[Path]:
    """Complete part files in name order (temporary files start with a dot)."""
    parts_dir = Path(parts_dir)
    if not parts_dir.is_dir():
        return []
    return sorted(p for p in parts_dir.glob("*.h5") if not p.name.startswith("."))


def scan(parts_dir: str | Path, quarantine: bool = True) -> PartsIndex:
    """Read what every sound part file finished (ids and counts); the others are listed as
    damaged and, with quarantine, moved to parts/quarantine/ so that their molecules run again."""
    from dftgen.data import shards

    infos, damaged = [], []
    for path in part_files(parts_dir):
        problems = shards.verify(path)
        if problems:
            if quarantine:
                (path.parent / QUARANTINE).mkdir(exist_ok=True)
                path.replace(path.parent / QUARANTINE / path.name)
            damaged.append(problems[0])
            continue
        with shards.open_checked(path) as f:
            attrs = shards.read_attrs(f)
            ids = frozenset(int(i) for i in f["molecules/id"][()])
            fail_ids = f["failures/molecule_id"][()]
            whole = f["failures/conformer"][()] < 0
            retry = f["failures/retryable"][()].astype(bool)
            stages = f["failures/stage"].asstr()[()]
            n_conf = len(f["conformers/molecule_id"])
        infos.append(PartInfo(
            name=path.stem, task_id=str(attrs.get("task_id", path.stem)), bucket=str(attrs.get("bucket", "")),
            conformers=n_conf, molecule_ids=ids,
            final_failures=frozenset(int(i) for i in fail_ids[whole & ~retry]),
            retryable=frozenset(int(i) for i in fail_ids[whole & retry]),
            failures_by_stage={str(s): int(n) for s, n in zip(*np.unique(stages, return_counts=True))},
            seconds=float(attrs.get("seconds", 0.0)), finished_unix=float(attrs.get("finished_unix", 0.0)),
        ))
    return PartsIndex(infos, damaged)


def pending_tasks(plan: Plan, index: PartsIndex) -> list[Task]:
    """The tasks still to run, in plan order, holding only unfinished molecules."""
    finished, names = index.finished, index.names
    pending = []
    for task in plan.tasks:
        remaining = [m for m in task.molecules if m.id not in finished]
        if not remaining:
            continue
        if len(remaining) == len(task.molecules) and task.id not in names:
            pending.append(task)
        else:
            digest = hashlib.sha256(",".join(str(m.id) for m in remaining).encode()).hexdigest()[:8]
            pending.append(task.subset(remaining, f"~{digest}"))
    return pending
