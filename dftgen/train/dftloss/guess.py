"""A trained DFT-loss network as the SCF's initial guess: `run_dft(mol, guess=MODEL_DIR)`.

The network reads the molecule's own SCF inputs (the minao density's Fock matrix and the
other covariant matrices of `features`), predicts a Hamiltonian, and the spec's differentiable
SCF steps refine it; the density of the result replaces minao's as the SCF's starting point.
A network knows one basis (its gates address shells of that basis), so it is used only at the
basis it was trained at; the SCF itself then runs at the caller's settings.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp

from dftgen.presets import Settings
from dftgen.scf import Problem, Setup, assemble
from dftgen.train.dftloss import differentiable_scf as dscf
from dftgen.train.dftloss.features import MoleculeFeatures, features_of


class ModelGuess:
    """A DFT-loss model directory (written by `dftgen train dftloss`), loaded once."""

    def __init__(self, model_dir: str | Path):
        from dftgen.train.dftloss.train import MODEL_FILE, load_model

        self.path = Path(model_dir)
        if not (self.path / MODEL_FILE).is_file():
            raise FileNotFoundError(f"guess {str(self.path)!r}: no DFT-loss model there (train one "
                                    f"with `dftgen train dftloss`; it writes {MODEL_FILE})")
        self.model, self.spec = load_model(self.path)

    def check(self, settings: Settings) -> None:
        trained = self.spec.settings
        if trained.basis.lower() != settings.basis.lower() or trained.shells != settings.shells:
            raise ValueError(f"guess {str(self.path)!r}: the network was trained in the "
                             f"{trained.basis} basis and cannot predict a {settings.basis} density")

    def build(self, setup: Setup, settings: Settings) -> Problem:
        """`dftgen.scf.assemble`, with the network's density as the initial guess."""
        problem = assemble(setup, settings)
        exact = problem.exact if problem.exact is not None else problem.work
        m = self.spec.model
        dm = predicted_density(self.model, features_of(problem, exact, self.spec.settings),
                               self.spec.settings.xc, m.scf_steps, m.broadening)
        work = problem.work.with_guess(dm.astype(problem.work.dm0.dtype))
        return dataclasses.replace(problem, work=work)


@functools.lru_cache(maxsize=8)
def load(model_dir: str) -> ModelGuess:
    """The model of a directory, loaded once per process (pipeline workers reuse it)."""
    return ModelGuess(model_dir)


@eqx.filter_jit
def predicted_density(model, features: MoleculeFeatures, functional: str, steps: int,
                      broadening: float) -> jnp.ndarray:
    """The density (nao, nao) of the network's refined Hamiltonian."""
    return dscf.refine(model.hamiltonian(features), features.scf, functional, steps, broadening).dm
