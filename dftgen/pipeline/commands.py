"""The dataset sub-commands of `dftgen`: generate, status, export.

`add_commands(subparsers)` registers them on the `dftgen` parser; each handler takes the
parsed arguments and returns the exit status.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "pipelines" / "default.toml"


def generate(args) -> int:
    """Generate a QM1B-style dataset from a pipeline spec (resumes an interrupted run)."""
    from dftgen.pipeline import spec as spec_mod
    from dftgen.pipeline.runner import generate as run

    spec = spec_mod.load(args.spec or DEFAULT_SPEC)
    if args.limit is not None:
        spec = spec.replace(filter={"limit": args.limit})
    report = run(spec, args.out, workers=args.workers, device=args.device, cluster=args.cluster,
                 address=args.address, scheduler_file=args.scheduler_file, jobs=args.jobs,
                 progress=not args.no_progress)
    return 0 if report.molecules_done or not report.planned_molecules else 1


def status(args) -> int:
    """Counts per state and shape bucket, failures by stage and an ETA for a run directory."""
    from dftgen.pipeline.status import format_status, run_status

    print(format_status(run_status(args.run_dir)))
    return 0


def export(args) -> int:
    """Export a run's shards to Parquet in QM1B's schema (one file per split)."""
    from dftgen.data import open_dataset
    from dftgen.data.export import to_parquet

    with open_dataset(args.run_dir) as dataset:
        rows = to_parquet(dataset, args.out, include_unconverged=args.all)
    for split, n in rows.items():
        print(f"{Path(args.out) / (split + '.parquet')}: {n} rows")
    return 0


def add_commands(subparsers) -> None:
    """Register `generate`, `status` and `export` on an argparse sub-parsers object."""
    p = subparsers.add_parser("generate", help="generate a dataset from a pipeline spec (TOML)",
                              description=generate.__doc__)
    p.add_argument("spec", nargs="?", help=f"pipeline spec (default: {DEFAULT_SPEC.name}, "
                                           "50 QM9 molecules x 2 conformers)")
    p.add_argument("--out", default="datasets",
                   help="parent folder of the run directory <name>-<config hash> (default datasets)")
    p.add_argument("--workers", type=int, help="local worker processes (default: the spec's, else one per core)")
    p.add_argument("--limit", type=int, help="only the first N molecules of the source after filtering")
    p.add_argument("--device", choices=["cpu", "gpu"], help="JAX platform of the workers (default: JAX's choice)")
    p.add_argument("--cluster", choices=["local", "slurm"], default="local",
                   help="start a LocalCluster (default) or a SLURMCluster from slurm/jobqueue.yaml")
    p.add_argument("--jobs", type=int, default=1, help="with --cluster slurm: most SLURM jobs to adapt to")
    p.add_argument("--address", help="connect to a running Dask scheduler (tcp://host:port)")
    p.add_argument("--scheduler-file", help="connect to the Dask scheduler described by this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=generate)

    p = subparsers.add_parser("status", help="progress, failures and ETA of a dataset run",
                              description=status.__doc__)
    p.add_argument("run_dir", help="run directory (datasets/<name>-<hash>)")
    p.set_defaults(func=status)

    p = subparsers.add_parser("export", help="export a dataset (Parquet in QM1B's schema)",
                              description=export.__doc__)
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    q = formats.add_parser("parquet", help="one Parquet file per split: smile, atoms, z, energy, homo, "
                                           "lumo, N, std, y, pos (eV, Bohr)", description=export.__doc__)
    q.add_argument("run_dir", help="run directory (or its shards folder)")
    q.add_argument("out", help="output folder for <split>.parquet")
    q.add_argument("--all", action="store_true", help="keep unconverged and zero-gap rows (QM1B dropped them)")
    q.set_defaults(func=export)

