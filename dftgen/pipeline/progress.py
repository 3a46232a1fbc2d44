"""The progress bars of `dftgen generate`: program shapes compiled, then conformers done, rate,
ETA and failures.

The bar counts planned conformers (molecules x conformers per molecule) whose task has
finished, so it ends at 100% even when RDKit returns fewer conformers or molecules fail;
the postfix says how many conformers were computed and how many molecules failed.
"""

from __future__ import annotations

import sys

from dftgen.compilation_cache import Programs
from dftgen.pipeline.tasks import TaskSummary


class Progress:
    def __init__(self, total: int, done: int, per_molecule: int, enabled: bool = True):
        from tqdm import tqdm

        self.per_molecule = per_molecule
        self.computed = 0
        self.failed = 0
        self.unconverged = 0
        self.bar = tqdm(total=total, initial=done, unit="conf", dynamic_ncols=True, file=sys.stderr,
                        disable=not enabled, desc="conformers", smoothing=0.1)

    def task_done(self, task_molecules: int, summary: TaskSummary | None, failed: int = 0) -> None:
        """Account one finished task (summary None: the driver recorded its failure)."""
        if summary is not None:
            self.computed += summary.conformers
            self.failed += summary.failures
            self.unconverged += summary.unconverged
        self.failed += failed
        self.bar.set_postfix(computed=self.computed, failed_molecules=self.failed,
                             unconverged=self.unconverged, refresh=False)
        self.bar.update(task_molecules * self.per_molecule)

    def close(self) -> None:
        self.bar.close()


class CompileProgress:
    """The compile phase's bar: program shapes done, with the programs compiled and read from
    the cache so far."""

    def __init__(self, shapes: int, buckets: int, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=shapes, unit="shape", dynamic_ncols=True, file=sys.stderr,
                        disable=not enabled, desc=f"compiling {shapes} shapes of {buckets} buckets")

    def shape_done(self, programs: Programs) -> None:
        """Account one finished shape; `programs`: the phase's counts so far."""
        self.bar.set_postfix(compiled=programs.compiled, from_cache=programs.from_cache, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
