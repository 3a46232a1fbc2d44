"""PNG plots of training logs (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_ERRORS = (("energy_mae_mev", "energy"), ("gap_mae_mev", "gap"))


def training_curve(log: list[dict], path: Path, title: str) -> None:
    """Test energy and gap MAE (meV) against training step."""
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = [e["step"] for e in log]
    for key, label in _ERRORS:
        ax.plot(steps, [e[key] for e in log], marker="o", label=f"{label} MAE")
    ax.set(xlabel="training step", ylabel="test error against converged SCF (meV)", yscale="log",
           title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def error_vs_time(logs: dict[str, list[dict]], key: str, ylabel: str, path: Path,
                  title: str, baseline: float | None = None) -> None:
    """One line per route: `key` against wall-clock seconds (route cost so far)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for route, log in logs.items():
        ax.plot([e["train_s"] for e in log], [max(e[key], 1e-6) for e in log], marker="o",
                label=route)
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", label="initial guess")
    ax.set(xlabel="wall-clock seconds (labels + training)", ylabel=ylabel,
           yscale="log", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
