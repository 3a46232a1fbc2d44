"""The label twin: the same network and differentiable SCF steps, trained on labels.

Labels are converged results of the same settings: the energy E*, the HOMO and LUMO
energies, and, where available, the converged density D* (datasets store energies and
orbital energies only; labels generated here by `generate` keep the density too). The
supervised loss of one molecule is

    w_E (E[D] - E*)^2 + w_o ((e_H - e_H*)^2 + (e_L - e_L*)^2) + w_D mean((D - D*)^2)
        + consistency |X^T (H - F[D_0]) X|^2,

Hartree^2 for the first two terms; the density term is skipped where no D* exists. The last
is the DFT-loss route's self-consistency term (differentiable_scf), the same in both routes.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen.presets import Settings
from dftgen.train.dftloss import differentiable_scf as dscf
from dftgen.train.dftloss.spec import LabelsSection
from dftgen.train.dftloss.evaluate import reference
from dftgen.train.dftloss.features import MoleculeFeatures, Sample


class Label(NamedTuple):
    """Hartree; dm (nao, nao) is zeros and has_dm 0 where no density label exists."""

    energy: jax.Array
    homo: jax.Array
    lumo: jax.Array
    dm: jax.Array
    has_dm: jax.Array


def from_values(sample: Sample, energy: float, homo: float, lumo: float,
                dm: np.ndarray | None = None) -> Label:
    dt = sample.features.scf.h.dtype
    nao = sample.features.scf.h.shape[0]
    density = jnp.zeros((nao, nao), dt) if dm is None else jnp.asarray(dm, dt)
    return Label(*(jnp.asarray(v, dt) for v in (energy, homo, lumo)), density,
                 jnp.asarray(0.0 if dm is None else 1.0, dt))


def generate(samples: list[Sample], settings: Settings) -> tuple[list[Label], float]:
    """Labels by converged SCF on each sample's inputs, and the seconds that took."""
    start = time.perf_counter()
    labels = []
    for sample in samples:
        ref = reference(sample, settings)
        labels.append(from_values(sample, ref.energy, ref.homo, ref.lumo, ref.dm))
    return labels, time.perf_counter() - start


def label_loss(model, features: MoleculeFeatures, label: Label, functional: str, steps: int,
               broadening: float, weights: LabelsSection, consistency: float):
    """The supervised loss of one molecule (see the module docstring)."""
    pred = dscf.refine(model.hamiltonian(features), features.scf, functional, steps, broadening)
    homo, lumo = dscf.frontier(pred.fock, features.scf, broadening)
    loss = weights.energy * (pred.energy - label.energy) ** 2
    loss += weights.orbitals * ((homo - label.homo) ** 2 + (lumo - label.lumo) ** 2)
    loss += weights.density * label.has_dm * jnp.mean((pred.dm - label.dm) ** 2)
    return loss + consistency * pred.residual
