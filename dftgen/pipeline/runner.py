"""The driver of a dataset run: plan (once), compile the program shapes, run pending tasks on
Dask, compact.

    generate(spec, "datasets")  ->  datasets/<name>-<hash>/{spec.json, plan.json, parts/, shards/}

Before the first task, one keyed Dask task per program shape (shape bucket and grid size) with
pending work compiles its programs into JAX's persistent cache (`precompile`), so the workers
load them instead of each compiling them; the run reports the phase's time and programs. Tasks go to the cluster through a bounded window over `as_completed`: at most `window`
tasks are in flight, a new one is submitted as one finishes, and finished futures are
released, so the scheduler never holds the whole plan. Each task has an explicit key, so a
double submission collapses. A task whose workers died too often (KilledWorker) is split in
two and both halves are queued again; a single molecule that still kills workers is
recorded as a "worker" failure. Everything a run did is in its part files, so a run killed
at any point is finished by running the same command again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import dftgen
from dftgen import compilation_cache
from dftgen.compilation_cache import Programs
from dftgen.data import shards
from dftgen.data.card import write_card
from dftgen.pipeline import cluster as cluster_mod
from dftgen.pipeline import sources
from dftgen.pipeline.compact import compact
from dftgen.pipeline.failures import Failure
from dftgen.pipeline.ingest import ingest
from dftgen.pipeline.plan import Plan, Task, make_plan
from dftgen.pipeline.precompile import CompileReport, compile_text, precompile, program_shapes
from dftgen.pipeline.progress import CompileProgress, Progress
from dftgen.pipeline.records import to_block
from dftgen.pipeline.resume import pending_tasks, scan
from dftgen.pipeline.spec import PipelineSpec
from dftgen.presets import PRESETS, level_of_theory
from dftgen.pipeline.tasks import TaskConfig, TaskSummary, part_path, run_task, summary_of_part

INGEST_PART = "ingest"  # parts/ingest.h5: failures found while ingesting


@dataclasses.dataclass
class RunReport:
    run_dir: Path
    planned_molecules: int
    tasks_run: int
    molecules_done: int
    conformers: int
    failures_by_stage: dict[str, int]
    seconds: float
    dft_seconds: float
    shard_index: dict
    conformers_run: int  # computed by this invocation (the others were done before)
    compile: CompileReport | None = None  # the compile phase (None: it did not run)
    task_programs: Programs = Programs()  # what the tasks compiled and read after it

    @property
    def conformers_per_hour(self) -> float:
        return self.conformers_run * 3600.0 / self.seconds if self.seconds else 0.0

    @property
    def compile_seconds(self) -> float:
        """Wall-clock seconds of the compile phase (0 when it did not run)."""
        return self.compile.seconds if self.compile else 0.0


def run_config(spec: PipelineSpec, run_dir: Path) -> TaskConfig:
    if spec.dft.guess:  # a missing or mismatched network fails the run here, not every molecule
        from dftgen.train.dftloss.guess import load

        load(spec.dft.guess).check(spec.dft.settings)
    return TaskConfig(seed=spec.seed, conformers=spec.conformers, settings=spec.dft.settings,
                      forces=spec.dft.with_forces, guess=spec.dft.guess, batch_size=spec.plan.batch_size,
                      parts_dir=str(run_dir / "parts"), config_hash=spec.config_hash(),
                      spec=json.loads(spec.to_json()))


def plan_run(spec: PipelineSpec, out_root: str | Path, log: Callable[[str], None] = print) -> tuple[Path, Plan]:
    """The run directory and its plan: read back when it exists, else ingested, planned and
    frozen (plan.json), with ingest failures written as parts/ingest.h5."""
    run_dir = spec.run_dir(out_root)
    plan_file = run_dir / "plan.json"
    (run_dir / "parts").mkdir(parents=True, exist_ok=True)
    if plan_file.is_file():
        plan = Plan.load(plan_file)
        if plan.config_hash != spec.config_hash():
            raise ValueError(f"{plan_file} belongs to another config ({plan.config_hash[:12]})")
        log(f"resuming {run_dir}: {len(plan.molecules)} molecules in {len(plan.tasks)} tasks")
        return run_dir, plan
    start = time.perf_counter()
    raw = sources.read(spec.source, heavy_atoms=spec.filter.heavy_atoms)
    result = ingest(raw, spec.filter)
    plan = make_plan(result.molecules, spec, dict(result.counts))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
    log(f"ingest ({time.perf_counter() - start:.1f} s): {counts}")
    log(f"plan: {len(plan.molecules)} molecules, {len(plan.buckets)} shape buckets, {len(plan.tasks)} tasks")
    shards.write(part_path(run_dir / "parts", INGEST_PART), to_block([], result.failures, spec.dft.with_forces),
                 _attrs(spec) | {"task_id": INGEST_PART, "bucket": ""})
    (run_dir / "spec.json").write_text(spec.to_json())
    plan.save(plan_file)  # last: a plan file means ingest is complete
    return run_dir, plan


def generate(spec: PipelineSpec, out_root: str | Path = "datasets", *, workers: int | None = None,
             device: str | None = None, cluster: str = "local", address: str | None = None,
             scheduler_file: str | None = None, jobs: int = 1, progress: bool = True,
             log: Callable[[str], None] = print,
             task_fn: Callable[[Task, TaskConfig], TaskSummary] = run_task) -> RunReport:
    """Run (or finish) the dataset of a spec under out_root and compact it into shards.

    task_fn exists for tests of the driver's fault handling; runs use `run_task`.
    """
    start = time.perf_counter()
    run_dir, plan = plan_run(spec, out_root, log)
    index = scan(run_dir / "parts")
    for problem in index.damaged:
        log(f"quarantined, its molecules run again: {problem}")
    pending = pending_tasks(plan, index)
    total = len(plan.molecules) * spec.conformers.per_molecule
    pending_conformers = sum(len(t.molecules) for t in pending) * spec.conformers.per_molecule
    summaries: list[TaskSummary] = []
    compiled = None
    if pending:
        log(f"{len(pending)} tasks to run ({total - pending_conformers} of {total} conformers already done)")
        env = cluster_mod.worker_env(device)
        config = run_config(spec, run_dir)
        with cluster_mod.connect(cluster, workers=workers or spec.run.workers, address=address,
                                 scheduler_file=scheduler_file, env=env,
                                 allowed_failures=spec.run.allowed_failures, jobs=jobs) as client:
            log(f"Dask dashboard: {cluster_mod.dashboard(client)}")
            if spec.run.precompile and compilation_cache.root() is None:
                log("no compile phase: the compilation cache is off, so each worker compiles for itself")
            elif spec.run.precompile:
                compiled = compile_phase(client, pending, config, progress)
                log(compile_text(compiled))
            bar = Progress(total, total - pending_conformers, spec.conformers.per_molecule, enabled=progress)
            try:
                expected = 0 if address or scheduler_file else cluster_mod.expected_workers(
                    cluster, workers or spec.run.workers, jobs)
                summaries = execute(client, pending, config, spec, bar, task_fn, expected)
            finally:
                bar.close()
    shard_index = compact(run_dir, list(spec.output.splits), spec.output.shard_mb, _attrs(spec))
    write_card(run_dir)
    shard_counts = [s for entries in shard_index["splits"].values() for s in entries]
    report = RunReport(
        run_dir=run_dir, planned_molecules=len(plan.molecules), tasks_run=len(summaries),
        molecules_done=sum(s["molecules"] for s in shard_counts),
        conformers=sum(s["conformers"] for s in shard_counts),
        failures_by_stage=shard_index["failures_by_stage"],
        seconds=time.perf_counter() - start, dft_seconds=sum(s.dft_seconds for s in summaries),
        shard_index=shard_index, conformers_run=sum(s.conformers for s in summaries),
        compile=compiled, task_programs=sum((s.programs for s in summaries), Programs()),
    )
    log(summary_text(report))
    return report


def compile_phase(client, pending: list[Task], config: TaskConfig, progress: bool) -> CompileReport:
    """`precompile` the program shapes of the pending tasks under a progress bar."""
    shapes = program_shapes(pending, config.settings)
    bar = CompileProgress(len(shapes), len({s.bucket for s in shapes}), enabled=progress)
    try:
        return precompile(client, shapes, config, bar)
    finally:
        bar.close()


def execute(client, tasks: list[Task], config: TaskConfig, spec: PipelineSpec, bar: Progress,
            task_fn: Callable[[Task, TaskConfig], TaskSummary], expected_workers: int = 0) -> list[TaskSummary]:
    """Run tasks through a bounded window; bisect tasks that kill workers.

    The window is `[run] window`, else twice the workers (those connected or, when more,
    those expected), so every worker has a task waiting and the scheduler holds few.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    queue = deque(tasks)
    in_flight: dict = {}
    finished = as_completed()
    summaries = []

    def fill() -> None:
        window = spec.run.window or 2 * max(cluster_mod.n_workers(client), expected_workers, 1)
        while queue and len(in_flight) < window:
            task = queue.popleft()
            future = client.submit(task_fn, task, config, key=f"dftgen-{config.config_hash[:8]}-{task.id}",
                                   retries=spec.run.retries, pure=False)
            in_flight[future] = task
            finished.add(future)

    fill()
    for future in finished:
        task = in_flight.pop(future)
        if future.status == "finished":
            summary = future.result()
            summaries.append(summary)
            bar.task_done(len(task.molecules), summary)
        elif part_path(config.parts_dir, task.id).is_file():  # it finished; its worker died later
            summary = summary_of_part(part_path(config.parts_dir, task.id))
            summaries.append(summary)
            bar.task_done(len(task.molecules), summary)
        else:
            err = future.exception()
            if isinstance(err, KilledWorker) and len(task.molecules) > 1:
                half = len(task.molecules) // 2
                queue.extendleft([task.subset(task.molecules[half:], ".1"), task.subset(task.molecules[:half], ".0")])
            else:
                _record_task_failure(task, err, config, spec, killed=isinstance(err, KilledWorker))
                bar.task_done(len(task.molecules), None, failed=len(task.molecules))
        future.release()
        fill()
    return summaries


def _record_task_failure(task: Task, err: BaseException, config: TaskConfig, spec: PipelineSpec,
                         killed: bool) -> None:
    """A part file holding only failures for a task that could not run: "worker" (final)
    when it kept killing workers, "task" (retryable) when it raised."""
    stage = "worker" if killed else "task"
    message = (f"task {task.id} killed {spec.run.allowed_failures + 1} workers; bisection isolated "
               f"this molecule ({err})" if killed else f"task {task.id} raised after "
               f"{spec.run.retries} retries: {type(err).__name__}: {err}")
    failures = [Failure(m.id, m.smiles, -1, stage, type(err).__name__, not killed, message)
                for m in task.molecules]
    shards.write(part_path(config.parts_dir, task.id), to_block([], failures, config.forces),
                 _attrs(spec) | {"task_id": task.id, "bucket": task.bucket, "finished_unix": time.time()})


def _attrs(spec: PipelineSpec) -> dict:
    """Provenance attributes of every file a run writes."""
    return {
        "config_hash": spec.config_hash(),
        "code_version": dftgen.__version__,
        "settings": dataclasses.asdict(spec.dft.settings),
        "level_of_theory": level_of_theory(spec.dft.settings),
        "preset": spec.dft.preset,
        "preset_provenance": _provenance(spec),
        "spec": json.loads(spec.to_json()),
        "forces": spec.dft.with_forces,
        "units": "energies eV, positions Bohr, dipoles Debye, charges e, forces eV/Bohr",
    }


def _provenance(spec: PipelineSpec) -> str:
    """The preset's provenance line, saying which settings the spec changed (a changed level of
    theory no longer reproduces what the preset names)."""
    preset = PRESETS[spec.dft.preset]
    changed = {k: v for k, v in spec.dft.overrides if getattr(preset.settings, k) != v}
    if not changed:
        return preset.provenance
    return f"{preset.provenance}; changed here: {', '.join(f'{k}={v}' for k, v in changed.items())}"


def summary_text(report: RunReport) -> str:
    splits = ", ".join(f"{name} {sum(s['conformers'] for s in entries)}"
                       for name, entries in report.shard_index["splits"].items())
    failures = ", ".join(f"{k} {v}" for k, v in sorted(report.failures_by_stage.items())) or "none"
    lines = [
        f"run directory: {report.run_dir}",
        f"molecules: {report.molecules_done} of {report.planned_molecules} computed; "
        f"conformers: {report.conformers} ({splits})",
        f"failures by stage: {failures}",
        f"this run: {report.tasks_run} tasks, {report.conformers_run} conformers in {report.seconds:.1f} s"
        + (f" ({report.conformers_per_hour:.0f} conformers/hour)" if report.conformers_run else ""),
    ]
    tasks = (f"the tasks compiled {report.task_programs.compiled} programs and read "
             f"{report.task_programs.from_cache} from cache")
    if report.compile:
        compiled = report.compile.programs
        tasks = (f"compile phase: {report.compile_seconds:.1f} s for {report.compile.shapes} program "
                 f"shapes, {compiled.total} programs ({compiled.compiled} compiled, "
                 f"{compiled.from_cache} from cache); then {tasks}")
    if report.tasks_run:
        lines.append(tasks)
    return "\n".join(lines)
