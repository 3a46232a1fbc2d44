"""One pipeline task, as a worker runs it: conformers -> DFT -> one part file.

`run_task` embeds each molecule's conformers, runs the kernel (`run_dft_batch`) on them in
batches of `batch_size` conformers (all of one shape bucket, so one compiled program per
bucket and batch size), and writes everything, results and failures, to
`parts/<task id>.h5` under a temporary name and a rename. The part file lists the molecule
ids the task attempted: that list is what a restarted run reads to skip finished work. Only
a small summary goes back to the driver.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import dftgen
from dftgen import compilation_cache
from dftgen.compilation_cache import Programs
from dftgen.data import shards
from dftgen.molecule import MoleculeError
from dftgen.pipeline.conformers import embed, molecule_seed
from dftgen.pipeline.failures import Failure
from dftgen.pipeline.plan import Task
from dftgen.pipeline.records import MoleculeResult, to_block
from dftgen.pipeline.spec import ConformersSection
from dftgen.presets import Settings
from dftgen.relax import relax


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """What every task of a run shares (sent to workers with each task; small)."""

    seed: int
    conformers: ConformersSection
    settings: Settings
    forces: bool
    batch_size: int
    parts_dir: str
    config_hash: str
    spec: dict = dataclasses.field(default_factory=dict)  # the run's spec, recorded in each part
    guess: str | None = None  # a DFT-loss model directory: its density starts each SCF


@dataclasses.dataclass(frozen=True)
class TaskSummary:
    task_id: str
    bucket: str
    molecules: int
    conformers: int
    failures: int
    unconverged: int
    seconds: float
    dft_seconds: float
    programs: Programs = Programs()  # compiled and read from the cache (not kept in the part)


def part_path(parts_dir: str | Path, task_id: str) -> Path:
    return Path(parts_dir) / f"{task_id}.h5"


def run_task(task: Task, config: TaskConfig) -> TaskSummary:
    """Compute a task and write its part file; returns counts and timings.

    Idempotent: when the part file exists (the task finished, but its worker died before
    the scheduler heard, so Dask runs it again) the summary is read from it.
    """
    if part_path(config.parts_dir, task.id).is_file():
        return summary_of_part(part_path(config.parts_dir, task.id))
    start = time.perf_counter()
    before = compilation_cache.programs()
    failures: list[Failure] = []
    embedded: list[MoleculeResult] = []
    for entry in task.molecules:
        try:
            conformers = embed(entry, config.conformers, config.seed)
        except MoleculeError as err:
            failures.append(Failure.from_exception(entry.id, entry.smiles, "embed", err, retryable=False))
            continue
        relaxation = []
        if config.conformers.optimize == "dft":
            try:
                relaxed = [relax(mol, config.settings, config.conformers.max_steps,
                                 config.conformers.fmax_ev_ang) for mol in conformers]
            except Exception as err:  # noqa: BLE001 - recorded as a failure row
                failures.append(Failure.from_exception(
                    entry.id, entry.smiles, "relax", err, retryable=not isinstance(err, MoleculeError)))
                continue
            conformers = [r.mol for r in relaxed]
            relaxation = [(r.steps, r.max_force_ev_ang) for r in relaxed]
        embedded.append(MoleculeResult(entry, molecule_seed(config.seed, entry.id), conformers, [],
                                       relaxation))
    dft_start = time.perf_counter()
    done, dft_failures = compute(embedded, config.settings, config.forces, config.batch_size, config.guess)
    dft_seconds = time.perf_counter() - dft_start
    failures += dft_failures
    unconverged = [
        Failure(m.entry.id, m.entry.smiles, i, "scf", "SCFNotConverged", False,
                f"std of the last five energies {r.energy_std_last5_ev:.3g} eV after {r.iterations} "
                f"iterations (threshold {config.settings.std_threshold_ev} eV); the row is kept "
                "with converged=False")
        for m in done for i, r in enumerate(m.results) if not r.converged
    ]
    failures += unconverged
    seconds = time.perf_counter() - start
    attrs = {
        "task_id": task.id,
        "bucket": task.bucket,
        "attempted_ids": [str(m.id) for m in task.molecules],
        "config_hash": config.config_hash,
        "code_version": dftgen.__version__,
        "settings": dataclasses.asdict(config.settings),
        "spec": config.spec,
        "seconds": seconds,
        "dft_seconds": dft_seconds,
        "finished_unix": time.time(),
        "failed_molecules": len(failures) - len(unconverged),
    }
    shards.write(part_path(config.parts_dir, task.id), to_block(done, failures, config.forces), attrs)
    return TaskSummary(task.id, task.bucket, len(done), sum(len(m.results) for m in done),
                       len(failures) - len(unconverged), len(unconverged), seconds, dft_seconds,
                       compilation_cache.programs() - before)


def summary_of_part(path: Path) -> TaskSummary:
    """The summary of a finished task, read back from its part file."""
    import h5py

    with h5py.File(path, "r") as f:
        attrs = shards.read_attrs(f)
        unconverged = int((~f["conformers/converged"][()]).sum())
        molecules, conformers = len(f["molecules/id"]), len(f["conformers/molecule_id"])
        failed = int(attrs.get("failed_molecules", len(f["failures/molecule_id"]) - unconverged))
    return TaskSummary(str(attrs.get("task_id", path.stem)), str(attrs.get("bucket", "")), molecules,
                       conformers, failed, unconverged, float(attrs.get("seconds", 0.0)),
                       float(attrs.get("dft_seconds", 0.0)))


def compute(molecules: list[MoleculeResult], settings: Settings, forces: bool, batch_size: int,
            guess: str | None = None) -> tuple[list[MoleculeResult], list[Failure]]:
    """Fill in `results` of each molecule by `run_dft_batch` over batches of exactly
    `batch_size` conformers (the last one padded with copies), so that a bucket compiles once;
    `guess`: a DFT-loss model directory whose density starts each SCF (None: minao).

    A batch that raises is run again molecule by molecule, so one bad molecule costs only
    itself; a molecule any of whose conformers fails is a failure as a whole (no partial
    molecules in the data). MoleculeError is final; any other exception is recorded as
    retryable.
    """
    from dftgen import run_dft_batch
    from dftgen.scf import SCFNotConvergedWarning

    flat = [(k, mol) for k, m in enumerate(molecules) for mol in m.conformers]
    results: list = [None] * len(flat)
    errors: dict[int, BaseException] = {}

    def run(indices: list[int]) -> None:
        mols = [flat[i][1] for i in indices]
        # a short batch is filled up with copies of its last conformer (results discarded):
        # every call of a bucket then has one shape and reuses one compiled program
        mols += [mols[-1]] * (batch_size - len(mols))
        with warnings.catch_warnings():  # non-convergence is recorded as data instead
            warnings.simplefilter("ignore", SCFNotConvergedWarning)
            out = run_dft_batch(mols, settings, forces=forces, guess=guess)
        for i, r in zip(indices, out):
            results[i] = r

    for begin in range(0, len(flat), batch_size):
        batch = list(range(begin, min(begin + batch_size, len(flat))))
        try:
            run(batch)
        except Exception:  # noqa: BLE001 - isolate the molecule that raised, below
            for owner in dict.fromkeys(flat[i][0] for i in batch):
                if owner in errors:
                    continue
                try:
                    run([i for i in batch if flat[i][0] == owner])
                except Exception as err:  # noqa: BLE001 - recorded as a failure row
                    errors[owner] = err
    done, failures = [], []
    for k, m in enumerate(molecules):
        if k in errors:
            err = errors[k]
            failures.append(Failure.from_exception(m.entry.id, m.entry.smiles, "dft", err,
                                                   retryable=not isinstance(err, MoleculeError)))
            continue
        m.results = [results[i] for i, (owner, _) in enumerate(flat) if owner == k]
        done.append(m)
    return done, failures
