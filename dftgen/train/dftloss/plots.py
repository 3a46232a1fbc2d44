"""PNG plots of training logs (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_ERRORS = (("energy_mae_mev", "energy"), ("gap_mae_mev", "gap"))
_SETS = {"test": "held-out molecules", "held_out": "held-out conformers"}


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


def error_vs_budget(results: dict, key: str, ylabel: str, path: Path, title: str) -> None:
    """Mean `key` (over seeds, with the standard deviation as error bars) against the budget:
    one line per route and held-out set; the initial guess as a dashed line for the energy."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name in results["iterations_from_minao"]:
        for route in ("dft", "labels"):
            rows = [r for r in results["table"] if r["route"] == route]
            if not rows:
                continue
            ax.errorbar([r["budget_minutes"] for r in rows], [max(r[name][key]["mean"], 1e-6) for r in rows],
                        yerr=[r[name][key]["std"] for r in rows], marker="o" if route == "dft" else "s",
                        linestyle="-" if name == "test" else ":", capsize=3, label=f"{route} route, {_SETS[name]}")
        if key == "energy_mae_mev":
            ax.axhline(results["guess_energy_mae_mev"][name], color="grey",
                       linestyle="--" if name == "test" else "-.", label=f"initial guess, {_SETS[name]}")
    ax.set(xlabel="budget: minutes of the route's clock (labels + training)", ylabel=ylabel,
           xscale="log", yscale="log", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
