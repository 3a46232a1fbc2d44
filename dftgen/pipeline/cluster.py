"""Dask clusters for the pipeline: local (default), an existing scheduler, or SLURM.

Workers run JAX, so each gets one process per core with one thread, XLA's CPU thread pool
off (`--xla_cpu_multi_thread_eigen=false`, with dftgen's code-generation flags from
`dftgen.xla_flags`), BLAS/OpenMP threads at 1 (the nanny's default)
and JAX's persistent compilation cache in a shared folder, all set in the environment
before the worker process starts: a program compiled by one worker is then loaded, not
compiled again, by the others and by later runs.

A scheduler gives up on a task after it has killed `allowed_failures` + 1 workers
(KilledWorker); the driver then bisects the task to isolate the molecule responsible.
For an existing cluster the scheduler's own `distributed.scheduler.allowed-failures`
applies and the workers' environment is whatever they were started with (see slurm/).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from dftgen import compilation_cache, extras, hugepages, xla_flags

JOBQUEUE_FILE = Path(__file__).resolve().parents[2] / "slurm" / "jobqueue.yaml"
DEVICES = {"cpu": "cpu", "gpu": "cuda"}


def worker_env(device: str | None = None, cache_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Environment variables for worker processes (set before JAX is imported there).

    device: "cpu" or "gpu" (JAX_PLATFORMS); None leaves JAX's own choice.
    cache_dir: the root of JAX's persistent compilation cache; default
    `dftgen.compilation_cache.root()` (None there, DFTGEN_JAX_CACHE=off, switches it off in
    the workers too). Each worker keeps its entries in its own machine kind's directory under
    it, capped (`dftgen.compilation_cache`), so a long run cannot fill a disk.
    """
    cache = cache_dir or compilation_cache.root()
    env = {
        "XLA_FLAGS": xla_flags.with_flags("--xla_cpu_multi_thread_eigen=false"),
        "DFTGEN_JAX_CACHE": "off",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
        env["DFTGEN_JAX_CACHE"] = env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
    # the driver's cache cap and mapping guard travel to workers that do not inherit its env
    for name in (compilation_cache.MAX_GB_ENV, compilation_cache.CLEAR_AT_ENV):
        if os.environ.get(name):
            env[name] = os.environ[name]
    if device is not None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {sorted(DEVICES)}, got {device!r}")
        env["JAX_PLATFORMS"] = DEVICES[device]
    return env


@contextlib.contextmanager
def connect(kind: str = "local", *, workers: int | None = None, address: str | None = None,
            scheduler_file: str | None = None, env: dict[str, str] | None = None,
            allowed_failures: int = 1, jobs: int = 1,
            jobqueue_file: str | os.PathLike = JOBQUEUE_FILE) -> Iterator:
    """A dask.distributed Client, closed (with any cluster it started) on exit.

    kind: "local" starts a LocalCluster of `workers` processes (default: one per core);
    "slurm" starts a SLURMCluster from `jobqueue_file` adapting between 0 and `jobs` jobs.
    address / scheduler_file: connect to a running scheduler instead (kind is ignored).
    """
    import dask
    from distributed import Client

    if address or scheduler_file:
        with Client(address=address, scheduler_file=scheduler_file) as client:
            yield client
        return
    with dask.config.set({**scheduler_config(allowed_failures), **hugepages.dask_config()}):
        if kind == "local":
            from distributed import LocalCluster

            n = workers or os.cpu_count() or 1
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=env or {},
                                   dashboard_address=":0")
        elif kind == "slurm":
            cluster = slurm_cluster(jobqueue_file)
            cluster.adapt(minimum_jobs=0, maximum_jobs=jobs)
        else:
            raise ValueError(f"cluster must be 'local' or 'slurm', got {kind!r}")
        with cluster, Client(cluster) as client:
            yield client


def scheduler_config(allowed_failures: int) -> dict:
    """Scheduler settings for JAX tasks of minutes on single-threaded workers.

    worker-saturation 1.0 gives each worker one task at a time (the default 1.1 rounds up
    to two for one thread): a task queued behind a poisonous one on the same worker would
    otherwise be blamed when that worker dies. Inputs are tiny, so nothing is lost by not
    sending tasks ahead.
    """
    return {"distributed.scheduler.allowed-failures": allowed_failures,
            "distributed.scheduler.worker-saturation": 1.0}


def slurm_cluster(jobqueue_file: str | os.PathLike = JOBQUEUE_FILE, **overrides):
    """A dask-jobqueue SLURMCluster configured from a jobqueue YAML file (no jobs started;
    `job_script()` renders without SLURM installed).

    The file's `jobqueue.slurm` table becomes the cluster's keyword arguments (jobqueue reads
    its config lazily, after a temporary config would be gone); its `distributed` table
    configures the scheduler the cluster starts.
    """
    import dask
    import yaml

    extras.require("cluster", "--cluster slurm")
    from dask_jobqueue import SLURMCluster

    config = yaml.safe_load(Path(jobqueue_file).read_text())
    job = {_JOB_KEYS.get(key, key.replace("-", "_")): value
           for key, value in config.get("jobqueue", {}).get("slurm", {}).items()}
    with dask.config.set(_dotted({"distributed": config.get("distributed", {})})):
        return SLURMCluster(**(job | overrides))


_JOB_KEYS = {"name": "job_name"}  # config key -> SLURMCluster keyword where they differ


def _dotted(tree: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}: dask.config.set merges dotted keys into the defaults."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_dotted(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def dashboard(client) -> str:
    """Where the Dask dashboard is (it needs bokeh, which dask[distributed] does not pull in)."""
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:
        return "not available (pip install 'dftgen[cluster]' to get one)"
    return client.dashboard_link


def n_workers(client) -> int:
    return len(client.scheduler_info().get("workers", {}))


def expected_workers(kind: str, workers: int | None = None, jobs: int = 1,
                     jobqueue_file: str | os.PathLike = JOBQUEUE_FILE) -> int:
    """Workers a cluster will have once it is up: what the in-flight window is sized for
    (an adaptive SLURM cluster only grows when enough tasks are waiting)."""
    if kind == "slurm":
        import yaml

        job = yaml.safe_load(Path(jobqueue_file).read_text())["jobqueue"]["slurm"]
        return jobs * int(job.get("processes") or 1)
    return workers or os.cpu_count() or 1
