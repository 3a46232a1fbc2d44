"""Optional dependencies: which extra of `pip install dftgen[...]` brings what a command needs.

The core labels molecules; training SchNet needs torch and schnetpack (`dftgen[schnet]`),
SLURM clusters need dask-jobqueue (`dftgen[cluster]`). A command that needs a missing extra
stops with one line naming the extra to install.
"""

from __future__ import annotations

import importlib.util

EXTRAS = {"schnet": ("torch", "schnetpack"), "cluster": ("dask_jobqueue",)}


class MissingExtraError(ImportError):
    """A command needs an optional dependency that is not installed."""


def require(extra: str, what: str) -> None:
    """Raise MissingExtraError naming `extra` if any module it brings is missing; `what` names
    the feature in the message (e.g. "dftgen train schnet")."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"{what} needs the {extra!r} extra ({', '.join(missing)} not "
                                f"installed): pip install 'dftgen[{extra}]'")
