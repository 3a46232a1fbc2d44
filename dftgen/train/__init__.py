"""Machine-learning models trained on generated datasets.

`dftgen.train.schnet`: SchNet through schnetpack on dftgen shards (QM1B's SchNet-9M recipe).
"""


def add_train_parser(subparsers):
    """Register `dftgen train` on the `dftgen` sub-parsers; returns its own sub-parsers, on
    which each trainer registers itself (e.g. `dftgen.train.schnet.commands.add_train_commands`)."""
    p = subparsers.add_parser("train", help="train a model on a generated dataset",
                              description="Train a model on a generated dataset.")
    return p.add_subparsers(dest="trainer", metavar="TRAINER", required=True)
