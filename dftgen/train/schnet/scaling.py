"""The scaling experiment: SchNet's validation error against training-set size (the QM1B
paper's figure), with the mean-predictor baseline and a power-law fit.

Models train on nested subsets of the training split (whole molecules in one shuffled order)
and are judged on the same validation molecules. The fit is least squares of log10 MAE on
log10 N, so that MAE ~ 10**intercept * N**slope (meV, N training conformers).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from dftgen.train.schnet import plots
from dftgen.train.schnet.data import ConformerIndex
from dftgen.train.schnet.spec import SchNetSpec
from dftgen.train.schnet.training import train

RESULTS, PLOT = "scaling.json", "scaling.png"

# QM1B's SchNet-9M validation gap MAE (meV) against training conformers, read off the
# scaling figure of Mathiasen et al. (NeurIPS 2023 Datasets and Benchmarks)
QM1B_GAP_TREND = ((1e5, 290.0), (1e6, 80.0), (1e7, 40.0), (1e8, 32.0), (1e9, 32.0))


def power_law_fit(sizes, maes) -> dict:
    """{"slope", "intercept", "rms_log10"}: log10 MAE = intercept + slope log10 N."""
    x, y = np.log10(np.asarray(sizes, float)), np.log10(np.asarray(maes, float))
    slope, intercept = np.polyfit(x, y, 1)
    rms = float(np.sqrt(np.mean((intercept + slope * x - y) ** 2)))
    return {"slope": float(slope), "intercept": float(intercept), "rms_log10": rms}


def qm1b_gap_fit() -> dict:
    """The power law of QM1B's trend where it still falls (1e5 to 1e7 conformers)."""
    sizes, maes = zip(*[(n, m) for n, m in QM1B_GAP_TREND if n <= 1e7])
    return {**power_law_fit(sizes, maes), "sizes": [int(n) for n in sizes], "mae_mev": list(maes)}


def scaling(spec: SchNetSpec, splits: dict[str, ConformerIndex], out_dir: str | os.PathLike,
            sizes: list[int], source: str = "", progress: bool = True, min_steps: int = 0) -> dict:
    """Train one model per training-set size under out_dir/scaling/n<size>/ (each for at
    least min_steps optimiser steps); write out_dir/scaling.json (MAE per size and split,
    baseline, power-law fit per target) and the log-log plot out_dir/scaling.png."""
    out_dir = Path(out_dir)
    sizes = sorted(set(sizes))
    if sizes[-1] > len(splits["train"]):
        raise ValueError(f"--scaling size {sizes[-1]} exceeds the {len(splits['train'])} training "
                         f"conformers of {source or 'the dataset'}")
    per_size = []
    for n in sizes:
        start = time.perf_counter()
        metrics = train(spec, splits, out_dir / "scaling" / f"n{n}", train_size=n, source=source,
                        progress=progress, min_steps=min_steps)
        per_size.append((metrics, time.perf_counter() - start))
    held_out = [s for s in ("val", "test") if s in per_size[0][0]["splits"]]
    result = {
        "model": spec.name, "source": source, "sizes": sizes, "min_steps": min_steps,
        "train_conformers": [m["train_conformers"] for m, _ in per_size],
        "train_molecules": [m["train_molecules"] for m, _ in per_size],
        "epochs": [m["epochs"] for m, _ in per_size], "steps": [m["steps"] for m, _ in per_size],
        "train_seconds": [round(s, 1) for _, s in per_size],
        **{f"{split}_conformers": per_size[0][0]["splits"][split]["conformers"] for split in held_out},
        **{f"{split}_molecules": per_size[0][0]["splits"][split]["molecules"] for split in held_out},
    }
    for split in held_out:
        result[f"{split}_mae_mev"] = {t: [m["splits"][split][t]["mae_mev"] for m, _ in per_size]
                                      for t in spec.targets}
        result[f"{split}_baseline_mae_mev"] = {
            t: [m["splits"][split][t]["baseline_mae_mev"] for m, _ in per_size] for t in spec.targets}
    result["fit"] = {t: power_law_fit(result["train_conformers"], result["val_mae_mev"][t])
                     for t in spec.targets}
    if "gap" in spec.targets:
        result["qm1b_gap_trend"] = qm1b_gap_fit()
    (out_dir / RESULTS).write_text(json.dumps(result, indent=1))
    plots.scaling_plot(result, out_dir / PLOT, f"{spec.name}: validation MAE against data")
    return result
