"""The compile phase of a dataset run: every shape bucket's programs, once, before any task.

    precompile(client, pending tasks, config)  ->  CompileReport

A bucket's programs (integrals, AO values, SCF iterations, final evaluation: a few dozen) take
tens of seconds to compile and are the same for every molecule of the bucket. One Dask task
per bucket with pending work (`compile_bucket`, under an explicit key) runs one conformer of
the bucket through the calls a task makes (`tasks.compute`, and the relaxation's forces where
conformers are relaxed with DFT), so the programs land in JAX's persistent cache: the buckets
compile side by side on the workers, and every task then loads its programs instead of
compiling them. A second run of the same spec finds them all in the cache and compiles nothing.
"""

from __future__ import annotations

import dataclasses
import time

from dftgen import compilation_cache
from dftgen.compilation_cache import Programs
from dftgen.molecule import MoleculeError
from dftgen.pipeline.conformers import embed
from dftgen.pipeline.plan import Task
from dftgen.pipeline.progress import CompileProgress
from dftgen.pipeline.records import MoleculeResult
from dftgen.pipeline.tasks import TaskConfig, compute


@dataclasses.dataclass(frozen=True)
class BucketCompile:
    """What compiling one bucket did on its worker: programs compiled and read from the cache,
    wall-clock seconds (embedding and one SCF included); error: why it did not run (None: ran)."""

    bucket: str
    programs: Programs
    seconds: float
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class CompileReport:
    """The compile phase: shape buckets compiled, their programs, wall-clock seconds (driver)."""

    buckets: int
    programs: Programs
    seconds: float
    failed: tuple[str, ...] = ()  # buckets whose compile task raised: their tasks compile


def compile_bucket(task: Task, config: TaskConfig) -> BucketCompile:
    """Compile (or load) a bucket's programs by running the first of `task`'s molecules that
    embeds through a task's own kernel calls, with the run's settings, forces and batch size."""
    start = time.perf_counter()
    before = compilation_cache.programs()
    found = representative(task, config)
    if found is None:
        return BucketCompile(task.bucket, Programs(), time.perf_counter() - start,
                             "no molecule of the task embeds")
    entry, mol = found
    _, failures = compute([MoleculeResult(entry, 0, [mol], [])], config.settings, config.forces,
                          config.batch_size)
    if config.conformers.optimize == "dft" and not failures:
        from dftgen import run_dft_batch

        run_dft_batch([mol], config.settings, forces=True)  # what each relaxation step calls
    error = f"{failures[0].error}: {failures[0].message}" if failures else None
    return BucketCompile(task.bucket, compilation_cache.programs() - before,
                         time.perf_counter() - start, error)


def representative(task: Task, config: TaskConfig):
    """(entry, its first conformer) for the first molecule of the task that embeds, or None."""
    one = dataclasses.replace(config.conformers, per_molecule=1)
    for entry in task.molecules:
        try:
            return entry, embed(entry, one, config.seed)[0]
        except MoleculeError:
            continue
    return None


def first_task_per_bucket(tasks: list[Task]) -> list[Task]:
    """The first of the tasks of each bucket, in plan order."""
    first: dict[str, Task] = {}
    for task in tasks:
        first.setdefault(task.bucket, task)
    return list(first.values())


def precompile(client, tasks: list[Task], config: TaskConfig, bar: CompileProgress) -> CompileReport:
    """Run `compile_bucket` for the buckets of the pending tasks, one keyed Dask task per bucket,
    all at once (the scheduler spreads them over the workers); wait for all of them.

    A compile task that raises (a worker died on the representative, say) is reported in
    `failed`: the bucket's tasks then compile for themselves, and the run goes on.
    """
    from distributed import as_completed

    start = time.perf_counter()
    futures = {client.submit(compile_bucket, task, config, key=f"dftgen-{config.config_hash[:8]}-compile-"
                             f"{task.bucket}", retries=0, pure=False): task.bucket
               for task in first_task_per_bucket(tasks)}
    programs, failed = Programs(), []
    for future in as_completed(futures):
        if future.status == "finished":
            done = future.result()
            programs += done.programs
            if done.error:
                failed.append(f"{done.bucket} ({done.error})")
        else:
            failed.append(f"{futures[future]} ({type(future.exception()).__name__}: {future.exception()})")
        bar.bucket_done(programs)
        future.release()
    return CompileReport(len(futures), programs, time.perf_counter() - start, tuple(failed))


def compile_text(report: CompileReport) -> str:
    """One line: 'compiled 7 shape buckets in 41.2 s: 45 programs, 45 compiled, 0 from cache'."""
    p = report.programs
    text = (f"compiled {report.buckets} shape buckets in {report.seconds:.1f} s: {p.total} programs, "
            f"{p.compiled} compiled, {p.from_cache} from cache")
    return text + "".join(f"\n  not compiled: {failure}" for failure in report.failed)
