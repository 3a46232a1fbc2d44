"""Is data loading the bottleneck of SchNet training? Molecules per second of the shard
loader alone against a training step, for the model specs in models/.

    .venv/bin/python benchmarks/schnet_loader.py [--data RUN_DIR] [--workers 0,2] [--threads N]

What is measured:
- loader: iterating `AtomsLoader` over the shard dataset with the training transforms
  (HDF5 reads of numbers and positions, neighbour list, offsets, scaling, float32 cast,
  collate), for each worker count; first batch excluded (worker start-up).
- step: forward without postprocessing, the task's loss, backward and an AdamW step on
  batches collated beforehand, on the GPU when torch sees one, else the CPU; two warm-up
  steps excluded.
Loading keeps up when loader molecules/s exceeds step molecules/s (with the workers the
spec asks for). Without --data the shards are synthetic: QM9 molecules of 9 heavy atoms
(QM1B's size, ~18 atoms), 2 conformers each.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loader_rate(spec, splits, offsets, workers: int, batches: int) -> float:
    from schnetpack.data.loader import AtomsLoader

    from dftgen.train.schnet.data import ShardConformers
    from dftgen.train.schnet.model import preprocessing

    dataset = ShardConformers(splits["train"], preprocessing(spec, offsets, with_targets=True))
    loader = AtomsLoader(dataset, batch_size=spec.data.batch_size, shuffle=True, num_workers=workers,
                         persistent_workers=workers > 0)
    epochs = itertools.chain.from_iterable(iter(loader) for _ in itertools.count())
    next(epochs)
    start, n = time.perf_counter(), 0
    for batch in itertools.islice(epochs, batches):
        n += len(batch["_idx"])
    return n / (time.perf_counter() - start)


def step_rate(spec, splits, offsets, steps: int) -> float:
    import torch
    from schnetpack.data.loader import AtomsLoader

    from dftgen.train.schnet.data import ShardConformers
    from dftgen.train.schnet.evaluation import device
    from dftgen.train.schnet.model import build_model, build_task, preprocessing

    on = device()
    dataset = ShardConformers(splits["train"], preprocessing(spec, offsets, with_targets=True))
    loader = AtomsLoader(dataset, batch_size=spec.data.batch_size, shuffle=True)
    batches = [{k: v.to(on) for k, v in b.items()} for b in itertools.islice(loader, min(steps, 8))]
    task = build_task(spec, build_model(spec, offsets)).to(on)
    optimizer = torch.optim.AdamW(task.parameters(), lr=spec.training.lr)

    def step(batch):
        optimizer.zero_grad()
        loss = task.loss_fn(task.predict_without_postprocessing(dict(batch)), batch)
        loss.backward()
        optimizer.step()

    for batch in batches[:2]:
        step(batch)
    if on.type == "cuda":
        torch.cuda.synchronize()
    start, n = time.perf_counter(), 0
    for k in range(steps):
        batch = batches[k % len(batches)]
        step(batch)
        n += len(batch["_idx"])
    if on.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a generated run directory (default: synthetic QM1B-sized shards)")
    parser.add_argument("--specs", default="schnet-small,schnet-9m")
    parser.add_argument("--workers", default="0,2", help="loader worker counts to measure")
    parser.add_argument("--batches", type=int, default=20, help="loader batches timed")
    parser.add_argument("--steps", type=int, default=10, help="training steps timed")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()

    import torch

    from dftgen.train.schnet import spec as spec_mod
    from dftgen.pipeline import synthetic
    from dftgen.train.schnet.commands import spec_path
    from dftgen.train.schnet.data import fit_offsets, load_splits
    from dftgen.train.schnet.evaluation import device

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or synthetic.write_run(Path(tmp) / "run", molecules=200, conformers=2, heavy_atoms=(9, 9))
        print(f"data: {args.data or 'synthetic, QM9 molecules of 9 heavy atoms'}; step device: {device()}; "
              f"torch threads: {torch.get_num_threads()}")
        print(f"{'spec':<13s} {'batch':>5s} {'loader mol/s (workers)':>32s} {'step mol/s':>11s}")
        for name in args.specs.split(","):
            spec = spec_mod.load(spec_path(name))
            splits = load_splits(data, spec.target_specs, spec.data.include_unconverged)
            offsets = fit_offsets(splits["train"], spec.target_specs)
            loads = {w: loader_rate(spec, splits, offsets, w, args.batches)
                     for w in (int(w) for w in args.workers.split(","))}
            steps = step_rate(spec, splits, offsets, args.steps)
            shown = ", ".join(f"{r:.0f} ({w})" for w, r in loads.items())
            print(f"{spec.name:<13s} {spec.data.batch_size:>5d} {shown:>32s} {steps:>11.0f}")


if __name__ == "__main__":
    main()
