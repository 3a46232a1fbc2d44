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


def scaling_plot(sizes: list[int], val_mae_mev: dict[str, list[float]], path: str | os.PathLike,
                 title: str) -> None:
    """Validation MAE against training-set size on log-log axes (QM1B's figure)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for target, values in val_mae_mev.items():
        ax.plot(sizes, values, marker="o", label=target)
    ax.set(xscale="log", yscale="log", xlabel="training conformers", ylabel="validation MAE (meV)",
           title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
