"""The learning curve and the scaling plot (PNG files, matplotlib without a display)."""

from __future__ import annotations

import os


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curve(curve: dict, path: str | os.PathLike, title: str) -> None:
    """curve: {"epoch": [...], "train_loss": [...], "val_mae_mev": {target: [...]}}."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(curve["epoch"], curve["train_loss"], marker=".")
    left.set(xlabel="epoch", ylabel="training loss (normalised targets)", yscale="log")
    for target, values in curve["val_mae_mev"].items():
        right.plot(curve["epoch"], values, marker=".", label=target)
    right.set(xlabel="epoch", ylabel="validation MAE (meV)", yscale="log")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def scaling_plot(result: dict, path: str | os.PathLike, title: str) -> None:
    """Validation MAE against training conformers on log-log axes (QM1B's figure): the
    models, the mean-predictor baseline, the power-law fit and, for the gap, QM1B's trend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sizes = result["train_conformers"]
    for target, values in result["val_mae_mev"].items():
        fit = result["fit"][target]
        line, = ax.plot(sizes, values, marker="o", label=f"{target}: SchNet (slope {fit['slope']:.2f})")
        ax.plot(sizes, result["val_baseline_mae_mev"][target], ls="--", color=line.get_color(),
                label=f"{target}: mean predictor")
        ax.plot(sizes, [10 ** fit["intercept"] * n ** fit["slope"] for n in sizes], ls=":",
                color=line.get_color())
    if "qm1b_gap_trend" in result:
        trend = result["qm1b_gap_trend"]
        ax.plot(trend["sizes"], trend["mae_mev"], marker="s", color="gray",
                label=f"gap: QM1B SchNet-9M (slope {trend['slope']:.2f})")
    ax.set(xscale="log", yscale="log", xlabel="training conformers", ylabel="validation MAE (meV)",
           title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
