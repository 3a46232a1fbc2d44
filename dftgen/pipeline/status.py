"""`dftgen status RUN_DIR`: where a run stands, read from its plan and part files only.

Molecules are done (results in a part), failed (a final failure) or pending (everything
else, including retryable failures). The ETA extrapolates the rate of the parts finished
in the last `window_s` seconds of activity to the pending conformers, assuming the same
workers keep going.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from dftgen.pipeline.plan import Plan
from dftgen.pipeline.resume import scan


@dataclasses.dataclass
class BucketStatus:
    label: str
    molecules: int
    done: int
    failed: int

    @property
    def pending(self) -> int:
        return self.molecules - self.done - self.failed


@dataclasses.dataclass
class RunStatus:
    run_dir: Path
    molecules: int
    done: int
    failed: int
    conformers: int
    buckets: dict[str, BucketStatus]
    failures_by_stage: dict[str, int]
    ingest_counts: dict[str, int]
    rate_per_s: float  # conformers per second over the recent window (0 when unknown)
    per_molecule: int
    compacted: bool
    damaged_parts: list[str]  # parts failing their checks; `generate` recomputes them

    @property
    def pending(self) -> int:
        return self.molecules - self.done - self.failed

    @property
    def eta_s(self) -> float | None:
        if self.pending == 0:
            return 0.0
        return self.pending * self.per_molecule / self.rate_per_s if self.rate_per_s > 0 else None


def run_status(run_dir: str | Path, window_s: float = 600.0) -> RunStatus:
    run_dir = Path(run_dir)
    plan_file = run_dir / "plan.json"
    if not plan_file.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no plan.json)")
    plan = Plan.load(plan_file)
    index = scan(run_dir / "parts", quarantine=False)  # status only reads
    succeeded = set().union(*(p.molecule_ids for p in index.parts)) if index.parts else set()
    final = set().union(*(p.final_failures for p in index.parts)) if index.parts else set()
    stages = Counter()
    for part in index.parts:
        stages.update(part.failures_by_stage)
    buckets = {}
    for task in plan.tasks:
        status = buckets.setdefault(task.bucket, BucketStatus(plan.buckets[task.bucket].label, 0, 0, 0))
        for m in task.molecules:
            status.molecules += 1
            status.done += m.id in succeeded
            status.failed += m.id not in succeeded and m.id in final
    planned = {m.id for m in plan.molecules}
    timed = sorted((p.finished_unix, p.conformers) for p in index.parts if p.finished_unix and p.conformers)
    rate = 0.0
    if len(timed) >= 2:
        recent = [(t, n) for t, n in timed if t >= timed[-1][0] - window_s]
        if len(recent) >= 2 and recent[-1][0] > recent[0][0]:
            rate = sum(n for _, n in recent[1:]) / (recent[-1][0] - recent[0][0])
    return RunStatus(
        run_dir=run_dir, molecules=len(planned), done=len(planned & succeeded),
        failed=len(planned & (final - succeeded)), conformers=sum(p.conformers for p in index.parts),
        buckets=buckets, failures_by_stage=dict(stages), ingest_counts=plan.ingest_counts,
        rate_per_s=rate, per_molecule=int(plan.spec["conformers"]["per_molecule"]),
        compacted=(run_dir / "shards" / "index.json").is_file(), damaged_parts=index.damaged,
    )


def format_status(status: RunStatus) -> str:
    eta = status.eta_s
    eta_text = "unknown (no recent parts)" if eta is None else _duration(eta)
    lines = [
        f"run directory: {status.run_dir}",
        f"molecules: {status.molecules} planned, {status.done} done, {status.failed} failed, "
        f"{status.pending} pending",
        f"conformers computed: {status.conformers}",
        f"rate: {status.rate_per_s * 3600:.0f} conformers/hour (recent parts); ETA {eta_text}",
        "ingest: " + ", ".join(f"{k} {v}" for k, v in sorted(status.ingest_counts.items())),
        "failures by stage: " + (", ".join(f"{k} {v}" for k, v in sorted(status.failures_by_stage.items()))
                                 or "none"),
        f"shards: {'compacted' if status.compacted else 'not yet compacted'}",
        *(f"damaged part (its molecules count as pending; `dftgen generate` recomputes them): "
          f"{line}" for line in status.damaged_parts),
        "",
        f"{'bucket':<10} {'shape':<32} {'molecules':>9} {'done':>6} {'failed':>6} {'pending':>7}",
    ]
    for key, b in status.buckets.items():
        lines.append(f"{key:<10} {b.label:<32} {b.molecules:>9} {b.done:>6} {b.failed:>6} {b.pending:>7}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
