"""The compile phase of a dataset run: every program shape's programs, once, before any task.

    precompile(client, pending tasks, config, bar)  ->  CompileReport

A molecule's programs (integrals, AO values, SCF iterations, final evaluation: a few dozen)
take tens of seconds to compile and depend on its shape only: its shape bucket (the basis
set's structure) and its grid's size, which differs within a bucket where the elements'
atomic grids do (C and N). So the pending molecules are grouped by *program shape*
(bucket, grid points), and one Dask task per shape (`compile_shape`, under an explicit key)
runs one conformer of it through the calls a task makes (`tasks.compute`, and the
relaxation's forces where conformers are relaxed with DFT). The programs land in JAX's
persistent cache: the shapes compile side by side on the workers, and every task then loads
its programs instead of compiling them. A second run of the same spec finds them all in the
cache and compiles nothing.
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
from dftgen.presets import Settings
from dftgen.scf import grid_points


@dataclasses.dataclass(frozen=True)
class ShapeCompile:
    """What compiling one program shape did on its worker: programs compiled and read from the
    cache, wall-clock seconds (embedding and one SCF included); error: why it did not run
    through (None: it did)."""

    shape: str
    programs: Programs
    seconds: float
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class CompileReport:
    """The compile phase: shape buckets and program shapes compiled, their programs, and the
    phase's wall-clock seconds (driver)."""

    buckets: int
    shapes: int
    programs: Programs
    seconds: float
    failed: tuple[str, ...] = ()  # shapes whose compile did not run through: their tasks compile


def program_shapes(tasks: list[Task], settings: Settings) -> list[Task]:
    """One task per program shape (bucket, grid points) among the tasks' molecules: the
    molecules of that shape in the first task holding one, in plan order, with id
    `<bucket>-g<grid points>`."""
    shapes: dict[str, Task] = {}
    for task in tasks:
        points = [grid_points(m.numbers, settings) for m in task.molecules]
        for n in dict.fromkeys(points):
            shape = f"{task.bucket}-g{n}"
            if shape not in shapes:
                shapes[shape] = Task(shape, task.bucket,
                                     tuple(m for m, k in zip(task.molecules, points) if k == n))
    return list(shapes.values())


def compile_shape(shape: Task, config: TaskConfig) -> ShapeCompile:
    """Compile (or load) a program shape's programs by running the first of its molecules that
    embeds through a task's own kernel calls, with the run's settings, forces and batch size."""
    start = time.perf_counter()
    before = compilation_cache.programs()
    found = representative(shape, config)
    if found is None:
        return ShapeCompile(shape.id, Programs(), time.perf_counter() - start,
                            "none of its molecules embeds")
    entry, mol = found
    _, failures = compute([MoleculeResult(entry, 0, [mol], [])], config.settings, config.forces,
                          config.batch_size, config.guess)
    if config.conformers.optimize == "dft" and not failures:
        from dftgen import run_dft_batch

        run_dft_batch([mol], config.settings, forces=True)  # what each relaxation step calls
    error = f"{failures[0].error}: {failures[0].message}" if failures else None
    return ShapeCompile(shape.id, compilation_cache.programs() - before,
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


def precompile(client, shapes: list[Task], config: TaskConfig, bar: CompileProgress) -> CompileReport:
    """Run `compile_shape` for each program shape (from `program_shapes`), one keyed Dask task
    each, all at once (the scheduler spreads them over the workers); wait for all of them.

    A compile task that raises (a worker died on the representative, say) is reported in
    `failed`: the shape's tasks then compile for themselves, and the run goes on.
    """
    from distributed import as_completed

    start = time.perf_counter()
    futures = {client.submit(compile_shape, shape, config, retries=0, pure=False,
                             key=f"dftgen-{config.config_hash[:8]}-compile-{shape.id}"): shape.id
               for shape in shapes}
    programs, failed = Programs(), []
    for future in as_completed(futures):
        if future.status == "finished":
            done = future.result()
            programs += done.programs
            if done.error:
                failed.append(f"{done.shape} ({done.error})")
        else:
            err = future.exception()
            failed.append(f"{futures[future]} ({type(err).__name__}: {err})")
        bar.shape_done(programs)
        future.release()
    return CompileReport(len({s.bucket for s in shapes}), len(shapes), programs,
                         time.perf_counter() - start, tuple(failed))


def compile_text(report: CompileReport) -> str:
    """'compiled 10 program shapes of 8 shape buckets in 350.0 s: 354 programs, 288 compiled,
    66 from cache', and a line for each shape that did not compile."""
    p = report.programs
    text = (f"compiled {report.shapes} program shapes of {report.buckets} shape buckets in "
            f"{report.seconds:.1f} s: {p.total} programs, {p.compiled} compiled, "
            f"{p.from_cache} from cache")
    return text + "".join(f"\n  not compiled: {failure}" for failure in report.failed)
