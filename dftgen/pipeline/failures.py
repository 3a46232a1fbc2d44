"""Failures are data: one row per molecule (or conformer) that did not make it, and why.

Stages, in pipeline order:
    parse   RDKit cannot parse or sanitise the SMILES
    ingest  outside what the run computes: element, charge, open shell
    embed   ETKDG found no conformer (or timed out), MMFF has no parameters
    dft     the kernel raised for this molecule
    scf     a conformer's SCF did not converge (its row is kept, flagged converged=False)
    worker  the molecule's task killed workers repeatedly and bisection isolated it
    task    the task raised outside the kernel (after Dask's retries)

`retryable` failures (transient by nature: a task that raised, an unexpected kernel
exception) are attempted again when the run is restarted; the others are final.
"""

from __future__ import annotations

import dataclasses

STAGES = ("parse", "ingest", "embed", "relax", "dft", "scf", "worker", "task")


@dataclasses.dataclass(frozen=True)
class Failure:
    """molecule_id and smiles identify the molecule; conformer is -1 for the whole
    molecule; error is the exception's class name; message is the full explanation."""

    molecule_id: int
    smiles: str
    conformer: int
    stage: str
    error: str
    retryable: bool
    message: str

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"failure stage must be one of {STAGES}, got {self.stage!r}")

    @classmethod
    def of_molecule(cls, molecule_id: int, smiles: str, stage: str, error: str, message: str,
                    retryable: bool = False) -> Failure:
        return cls(molecule_id, smiles, -1, stage, error, retryable, message)

    @classmethod
    def from_exception(cls, molecule_id: int, smiles: str, stage: str, err: BaseException,
                       retryable: bool, conformer: int = -1) -> Failure:
        return cls(molecule_id, smiles, conformer, stage, type(err).__name__, retryable, str(err))
