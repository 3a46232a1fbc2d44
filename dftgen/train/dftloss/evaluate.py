"""Predictions on held-out molecules against converged SCF at the same settings.

For each molecule: the energy of the predicted density E[D] against the converged SCF energy
E* (Hartree and meV; E[D] >= E* up to numerical noise, since D is a valid density), the
HOMO, LUMO and gap of F[D] against the converged orbital energies, and, as a use of the
prediction, the SCF iterations a converge-mode SCF needs when it starts from D instead of
the minao guess.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import equinox as eqx
import numpy as np

from dftgen.elements import HARTREE_EV
from dftgen.presets import Settings
from dftgen.scf.iterations import SCFInputs, final_results, iterate
from dftgen.train.dftloss import differentiable_scf as dscf
from dftgen.train.dftloss.features import MoleculeFeatures, Sample

MEV_PER_HA = HARTREE_EV * 1000.0
CONVERGE_MAX_ITER = 100


class Reference(NamedTuple):
    """Converged SCF of one molecule (Hartree): energy, frontier orbitals, iterations from the
    minao guess, and the converged density (nao, nao)."""

    energy: float
    homo: float
    lumo: float
    iterations: int
    converged: bool
    dm: np.ndarray


def converge_settings(settings: Settings) -> Settings:
    """The settings run to convergence (tolerances of the preset, at least 100 iterations)."""
    return dataclasses.replace(settings, mode="converge",
                               max_iter=max(settings.max_iter, CONVERGE_MAX_ITER))


def scf_from(inputs: SCFInputs, dm0, settings: Settings):
    """Converge-mode SCF from `dm0`: (state, final dm, energy, orbital energies)."""
    conv = converge_settings(settings)
    state = iterate(inputs.with_guess(dm0), conv)
    dm, _, energy, mo_energy, _ = final_results(state, inputs, conv.xc)
    return state, dm, energy, mo_energy


def reference(sample: Sample, settings: Settings) -> Reference:
    """Converged SCF of a sample, from the minao guess, on the sample's own inputs."""
    inputs = sample.features.scf
    state, dm, energy, mo = scf_from(inputs, inputs.dm0, settings)
    n = sample.n_occ
    return Reference(float(energy), float(mo[n - 1]), float(mo[n]), int(state.cycles),
                     bool(state.converged), np.asarray(dm))


def guess_energy(features: MoleculeFeatures, settings: Settings) -> float:
    """E of the aufbau density of the initial-guess Hamiltonian F[D_minao]: the first SCF
    iterate, the baseline a prediction has to beat."""
    return float(_guess_energy(features, settings.xc))


@eqx.filter_jit
def _guess_energy(features: MoleculeFeatures, functional: str):
    _, dm = dscf.aufbau(features.fock0, features.scf, 1e-10)
    return dscf.fock_and_energy(dm, features.scf, functional)[1]


@eqx.filter_jit
def predict(model, features: MoleculeFeatures, functional: str, steps: int, broadening: float):
    """(Prediction, homo, lumo) of one molecule, Hartree."""
    pred = dscf.refine(model.hamiltonian(features), features.scf, functional, steps, broadening)
    homo, lumo = dscf.frontier(pred.fock, features.scf, broadening)
    return pred, homo, lumo


def evaluate(model, samples: list[Sample], references: list[Reference], settings: Settings,
             steps: int, broadening: float, iterations: bool = False) -> dict:
    """Errors of the model's predictions against the references; with `iterations`, also
    the converge-mode SCF iterations from the predicted density against those from minao.

    Returns a dict of mean absolute errors (energy in Ha and meV, orbital energies in meV),
    the smallest E[D] - E* (Ha; >= -noise), and per-molecule rows.
    """
    rows = []
    for sample, ref in zip(samples, references):
        pred, homo, lumo = predict(model, sample.features, settings.xc, steps, broadening)
        row = {
            "molecule": sample.name,
            "energy_error_ha": float(pred.energy) - ref.energy,
            "homo_error_mev": (float(homo) - ref.homo) * MEV_PER_HA,
            "lumo_error_mev": (float(lumo) - ref.lumo) * MEV_PER_HA,
            "gap_error_mev": (float(lumo - homo) - (ref.lumo - ref.homo)) * MEV_PER_HA,
        }
        if iterations:
            state = scf_from(sample.features.scf, pred.dm, settings)[0]
            row["iterations_from_prediction"] = int(state.cycles)
            row["iterations_from_minao"] = ref.iterations
        rows.append(row)
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    def mae(key):
        return float(np.mean([abs(r[key]) for r in rows]))

    energy = np.array([r["energy_error_ha"] for r in rows])
    out = {
        "molecules": len(rows),
        "energy_mae_ha": float(np.mean(np.abs(energy))),
        "energy_mae_mev": float(np.mean(np.abs(energy)) * MEV_PER_HA),
        "energy_min_error_ha": float(energy.min()),
        "homo_mae_mev": mae("homo_error_mev"),
        "lumo_mae_mev": mae("lumo_error_mev"),
        "gap_mae_mev": mae("gap_error_mev"),
    }
    if rows and "iterations_from_prediction" in rows[0]:
        pred = np.mean([r["iterations_from_prediction"] for r in rows])
        minao = np.mean([r["iterations_from_minao"] for r in rows])
        out.update(iterations_from_prediction=float(pred), iterations_from_minao=float(minao),
                   iterations_saved=float(minao - pred))
    out["rows"] = rows
    return out
