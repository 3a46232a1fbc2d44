"""Synthetic datasets in the shard format, for tests and benchmarks of the trainers: a run
directory as the pipeline leaves it, with labels that cost nothing.

Real RDKit conformers (ETKDGv3, positions in Bohr) of QM9 molecules with labels from a smooth, deterministic
function of the geometry instead of DFT, so a run directory with real shards, splits and an
index appears in a second and a small network can learn its labels in a few epochs:

    e_i = sum_{j != i} exp(-(r_ij / 2.5 Bohr)^2)        a soft coordination number
    gap = 11 eV - 8 eV * mean_i(w_Zi e_i)                intensive, like an orbital gap
    homo = -6 eV - 0.3 (gap - 7 eV),  lumo = homo + gap
    energy = sum_i (E_Zi - 0.8 eV w_Zi e_i)              extensive, dominated by atom terms

with per-element weights w and atom energies E of the right size (eV). The numbers are not
chemistry; the shapes (intensive/extensive, geometry dependence) are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from dftgen.data import shards
from dftgen.data.shards import Block
from dftgen.molecule import Molecule

WEIGHT = {1: 0.2, 6: 0.5, 7: 0.7, 8: 0.9, 9: 1.1}
ATOM_EV = {1: -13.6, 6: -1027.0, 7: -1478.0, 8: -2035.0, 9: -2700.0}
SPLITS = [("train", 0.7), ("val", 0.15), ("test", 0.15)]


def qm9_smiles(n: int, heavy_atoms: tuple[int, int] = (1, 6)) -> list[str]:
    """The first n QM9 molecules (qm9pack's order, its local files) within heavy_atoms."""
    import itertools

    from dftgen.pipeline import sources
    from dftgen.pipeline.spec import SourceSection

    return [r.smiles for r in itertools.islice(sources.read(SourceSection("qm9"), heavy_atoms), n)]


def labels(numbers: np.ndarray, positions_bohr: np.ndarray) -> dict[str, float]:
    """energy_ev, homo_ev, lumo_ev, gap_ev of one conformer (see the module docstring)."""
    r = np.linalg.norm(positions_bohr[:, None] - positions_bohr[None], axis=-1)
    e = np.exp(-(r / 2.5) ** 2).sum(axis=1) - 1.0  # j = i contributes exp(0) = 1
    w = np.array([WEIGHT[int(z)] for z in numbers])
    gap = 11.0 - 8.0 * float(np.mean(w * e))
    homo = -6.0 - 0.3 * (gap - 7.0)
    energy = float(sum(ATOM_EV[int(z)] for z in numbers) - 0.8 * np.sum(w * e))
    return {"energy_ev": energy, "homo_ev": homo, "lumo_ev": homo + gap, "gap_ev": gap}


def block(smiles: list[str], conformers: int, seed: int = 0) -> Block:
    """Shard columns of up to `conformers` conformers per molecule, with synthetic labels."""
    from dftgen.pipeline.ingest import molecule_id

    mols = [(s, Molecule.conformers(s, conformers, seed=seed + k)) for k, s in enumerate(smiles)]
    rows = [(s, c, m) for s, confs in mols for c, m in enumerate(confs)]
    label = [labels(m.numbers, np.asarray(m.positions)) for _, _, m in rows]
    out = Block.empty()
    out.molecules = {
        "id": np.array([molecule_id(s) for s, _ in mols], np.int64),
        "smiles": np.array([s for s, _ in mols], object),
        "seed": np.array([seed + k for k in range(len(mols))], np.int64),
        "conformer_count": np.array([len(c) for _, c in mols], np.int32),
    }
    n = len(rows)
    out.conformers = {
        "molecule_id": np.array([molecule_id(s) for s, _, _ in rows], np.int64),
        "conformer": np.array([c for _, c, _ in rows], np.int32),
        **{k: np.array([x[k] for x in label]) for k in ("energy_ev", "homo_ev", "lumo_ev", "gap_ev")},
        "dispersion_ev": np.zeros(n),
        "converged": np.ones(n, bool),
        "iterations": np.full(n, 20, np.int32),
        "energy_std_last5_ev": np.zeros(n),
        "nao": np.array([m.natoms for *_, m in rows], np.int32),  # not an orbital count: unused here
        "dipole_debye": np.zeros((n, 3)),
        "relax_steps": np.zeros(n, np.int32),
        "relax_max_force_ev_ang": np.full(n, np.nan),
        "atom_count": np.array([m.natoms for *_, m in rows], np.int32),
    }
    out.atoms = {
        "z": np.concatenate([m.numbers for *_, m in rows]).astype(np.int8),
        "positions_bohr": np.concatenate([np.asarray(m.positions, float) for *_, m in rows]),
        "mulliken_charges_e": np.zeros(sum(m.natoms for *_, m in rows)),
    }
    return out


def write_run(run_dir: str | os.PathLike, molecules: int = 120, conformers: int = 3, seed: int = 0,
              parts: int = 2, splits=SPLITS, heavy_atoms: tuple[int, int] = (1, 6)) -> Path:
    """A run directory as the pipeline leaves it, of the first `molecules` QM9 molecules
    within heavy_atoms: part files compacted into split shards with `shards/index.json`
    (molecules split by id), every file carrying the spec of such a run."""
    from dftgen.pipeline.compact import compact
    from dftgen.pipeline.spec import PipelineSpec

    run_dir = Path(run_dir)
    (run_dir / "parts").mkdir(parents=True, exist_ok=True)
    spec = PipelineSpec(name="synthetic", seed=seed).replace(
        filter={"heavy_atoms": tuple(heavy_atoms), "limit": molecules},
        conformers={"per_molecule": conformers}, output={"splits": tuple(map(tuple, splits))})
    attrs = {"synthetic": True, "spec": json.loads(spec.to_json())}
    everything = block(qm9_smiles(molecules, heavy_atoms), conformers, seed)
    for k, rows in enumerate(np.array_split(np.arange(everything.n_molecules), parts)):
        shards.write(run_dir / "parts" / f"part-{k:05d}.h5", everything.take_molecules(rows), attrs)
    compact(run_dir, spec.output.splits, shard_mb=512, attrs=attrs)
    return run_dir
