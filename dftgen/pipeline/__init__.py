"""The dataset pipeline, on Dask (docs/architecture.md, docs/dataset-format.md).

    spec.py        pipeline specs (TOML) and the config hash that names a run directory
    sources.py     QM9 (qm9pack), GDB-11 .smi, SMILES files, CSV
    qm9_labels.py  QM9's published energies and HOMO/LUMO at its own geometries
    ingest.py      parse, canonicalise, deduplicate, filter; molecule ids
    conformers.py  ETKDGv3 conformers with per-molecule seeds
    plan.py        shape buckets and tasks, frozen in plan.json
    tasks.py       one task on a worker: conformers -> run_dft_batch -> part file
    records.py     kernel results and failures -> shard columns (eV, Bohr)
    failures.py    the failure record and its stages
    resume.py      what the part files say is finished (damaged ones quarantined); pending tasks
    runner.py      the driver: plan, bounded submission window, bisection, compaction
    compact.py     parts -> shards split by molecule, failure table, index
    cluster.py     LocalCluster / existing scheduler / SLURMCluster, worker environment
    progress.py    the progress bar
    status.py      `dftgen status`
    synthetic.py   run directories with synthetic labels, for tests and benchmarks of trainers
    commands.py    the `generate`, `status`, `export` and `verify` sub-commands
"""
