"""Machine-learning models trained on generated datasets.

`dftgen.train.schnet`: SchNet through schnetpack on dftgen shards (QM1B's SchNet-9M recipe).
`dftgen.train.dftloss`: a network trained through the DFT energy itself, and its label twin.
"""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def spec_path(spec: str) -> Path:
    """A model spec file, or the name of one in the repository's models/ folder."""
    path = Path(spec)
    if path.is_file():
        return path
    named = MODELS_DIR / f"{spec}.toml"
    if named.is_file():
        return named
    raise FileNotFoundError(f"no model spec {spec!r} (a TOML file, or one of "
                            f"{sorted(p.stem for p in MODELS_DIR.glob('*.toml'))})")


def add_train_parser(subparsers):
    """Register `dftgen train` on the `dftgen` sub-parsers; returns its own sub-parsers, on
    which each trainer registers itself (e.g. `dftgen.train.schnet.commands.add_train_commands`)."""
    p = subparsers.add_parser("train", help="train a model on a generated dataset",
                              description="Train a model on a generated dataset.")
    return p.add_subparsers(dest="trainer", metavar="TRAINER", required=True)
