"""Host threads for the integral drivers: where a molecule's integrals run as many programs of
different shapes (a class or class pair each), those run, and on a first run compile, side
by side on the cores this process may use. XLA compiles and executes without Python's lock,
so two threads on two cores take about half the time of one."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def count() -> int:
    """Threads this process may run: the cores of its CPU affinity, at most OMP_NUM_THREADS
    where that is set (a pipeline worker, or a benchmark's pinned process: one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(limit))) if limit.isdigit() else cores


def map_list(fn, items) -> list:
    """[fn(item) for item in items], on `count()` threads where that is more than one (fn must
    then be safe to run concurrently); the results in the items' order."""
    items = list(items)
    workers = min(count(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))
