"""Host threads and CPU devices: how one process uses the cores it may run on.

JAX's CPU client runs one program at a time per device: one process with one CPU device
spreads a program's larger operations over the cores (XLA's own threads) but runs the
programs themselves one after another. On importing dftgen, JAX is asked for one CPU device
per core (`configure`), and independent work runs on threads:
  * `map_devices`: the molecules of a batch, a thread per CPU device, each on its own device
    (`jax.default_device`), so that programs of different molecules run side by side;
  * `map_list`: within a molecule, integral classes and class pairs of different shapes on
    the caller's device, which on a first run compile side by side (XLA compiles without
    Python's lock). Inside a thread of `map_devices` they run serially: its core is busy.
A caller that chose a device (`jax.default_device`), or a backend other than the CPU, keeps
it: nothing is spread over devices then.

BLAS and LAPACK (NumPy's, and SciPy's that XLA:CPU's eigensolvers and factorisations call)
run on one thread a call while dftgen computes (`blas_on_one_thread`): its matrices are small
(nao up to a few hundred), where OpenBLAS's own threads cost more than they save, and two
such calls side by side (two devices) spin against each other.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import jax
import threadpoolctl
from jax._src import xla_bridge

_local = threading.local()


def count() -> int:
    """Threads this process may run: the cores of its CPU affinity, at most OMP_NUM_THREADS
    where that is set (a pipeline worker, or a benchmark's pinned process: one); one inside
    a thread that has a core of its own."""
    if getattr(_local, "own_core", False):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(limit))) if limit.isdigit() else cores


def configure() -> None:
    """Ask JAX for `count()` CPU devices, before its backend starts (on importing dftgen);
    nothing where the backend runs already or the user chose a number (jax_num_cpu_devices,
    JAX_NUM_CPU_DEVICES, or XLA_FLAGS' --xla_force_host_platform_device_count)."""
    if (xla_bridge.backends_are_initialized() or jax.config.jax_num_cpu_devices != -1
            or "--xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", "")):
        return
    if count() > 1:
        jax.config.update("jax_num_cpu_devices", count())


@contextlib.contextmanager
def blas_on_one_thread():
    """Within it, every BLAS library loaded in the process (SciPy's included, which JAX's
    linear algebra on the CPU calls) runs a call on one thread; restored on leaving."""
    importlib.import_module("scipy.linalg.cython_lapack")  # loads SciPy's BLAS, to be limited too
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        yield


def devices() -> list:
    """The devices work is spread over, one a thread: the CPU devices, at most `count()`, on a
    CPU backend where the calling thread chose none; else the one device every thread keeps
    (None: JAX's default)."""
    chosen = jax.config.jax_default_device
    if chosen is not None or jax.default_backend() != "cpu":
        return [chosen]
    cpus = jax.devices()[:count()]
    return cpus if len(cpus) > 1 else [None]


def _pool_map(fn, items: list, places: list, own_core: bool) -> list:
    """[fn(item) for item in items] on a thread per entry of `places` (a device, or None for
    JAX's default), each taking the next item when it is free; the results in the items'
    order. own_core: each thread counts as one core (`count()`)."""
    results: list = [None] * len(items)
    next_index = itertools.count()  # shared by the threads: next() on it is atomic

    def work(device):
        _local.own_core = own_core
        try:
            with jax.default_device(device) if device is not None else contextlib.nullcontext():
                for i in next_index:
                    if i >= len(items):
                        return
                    results[i] = fn(items[i])
        finally:
            _local.own_core = False

    with ThreadPoolExecutor(len(places)) as pool:
        for future in [pool.submit(work, device) for device in places]:
            future.result()
    return results


def map_list(fn, items) -> list:
    """[fn(item) for item in items], on `count()` threads where that is more than one, all on
    the calling thread's device; fn must be safe to run concurrently. The results in the
    items' order."""
    items = list(items)
    workers = min(count(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    return _pool_map(fn, items, [jax.config.jax_default_device] * workers, own_core=False)


def map_devices(fn, items, at_most: int | None = None) -> list:
    """[fn(item) for item in items], on a thread per CPU device (at most `at_most` of them)
    where this process has several (`devices()`), each running its items on its device with
    a core's worth of work (nested `map_list` calls run serially there); else on this
    thread."""
    items = list(items)
    places = devices()[:min(len(items), at_most or len(items))]
    if len(places) <= 1:
        return [fn(item) for item in items]
    return _pool_map(fn, items, places, own_core=True)
