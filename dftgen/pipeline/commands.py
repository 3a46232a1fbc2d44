"""The dataset sub-commands of `dftgen`: generate, status, export, verify.

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


def export_atoms(args) -> int:
    """Export a run's shards as extended XYZ or ASE databases (one file per split), in ASE's
    units, for ML-potential trainers (MACE, NequIP, Allegro, schnetpack)."""
    from dftgen.data import open_dataset
    from dftgen.data.atoms_export import to_ase_db, to_extxyz

    write, suffix = {"extxyz": (to_extxyz, ".extxyz"), "ase-db": (to_ase_db, ".db")}[args.format]
    with open_dataset(args.run_dir) as dataset:
        written = write(dataset, args.out)
    for split, n in written.items():
        print(f"{Path(args.out) / (split + suffix)}: {n} structures")
    return 0


def verify(args) -> int:
    """Check every part file and shard of a run: readable, this schema, every column equal to
    its checksum, the shard index consistent with the files. Exit status 1 when any is bad."""
    from dftgen.data.verify import verify_run

    report = verify_run(args.run_dir)
    for line in report["problems"]:
        print(line)
    print(f"{report['files_checked']} files checked, {len(report['problems'])} problems")
    return 1 if report["problems"] else 0


def add_commands(subparsers) -> None:
    """Register `generate`, `status`, `export` and `verify` on an argparse sub-parsers object."""
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
    for name, text in (("extxyz", "extended XYZ per split (eV, Angstrom; ASE and MACE keys)"),
                       ("ase-db", "ASE SQLite database per split (schnetpack's layout)")):
        q = formats.add_parser(name, help=text, description=export_atoms.__doc__)
        q.add_argument("run_dir", help="run directory (or its shards folder)")
        q.add_argument("out", help="output folder")
        q.set_defaults(func=export_atoms)

    p = subparsers.add_parser("verify", help="check the integrity of a dataset run's files",
                              description=verify.__doc__)
    p.add_argument("run_dir", help="run directory (datasets/<name>-<hash>)")
    p.set_defaults(func=verify)

