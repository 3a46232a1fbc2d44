"""Conformers of a molecule: ETKDGv3 with a seed that depends only on (global seed, molecule).

Because the seed is a function of the molecule id, regrouping molecules into other tasks,
other buckets or other machines never changes a conformer; ETKDGv3 with a fixed seed is
reproducible across thread counts.
"""

from __future__ import annotations

import hashlib

from dftgen.molecule import Molecule, MoleculeError
from dftgen.pipeline.ingest import MoleculeEntry
from dftgen.pipeline.spec import ConformersSection

_SEED_MODULUS = 2**31 - 1  # RDKit's randomSeed is a signed 32-bit int


def molecule_seed(global_seed: int, molecule_id: int) -> int:
    """RDKit seed of a molecule: SHA-256 of "global_seed:molecule_id", reduced to 31 bits."""
    digest = hashlib.sha256(f"{global_seed}:{molecule_id}".encode()).hexdigest()
    return int(digest[:16], 16) % _SEED_MODULUS


def embed(entry: MoleculeEntry, spec: ConformersSection, global_seed: int) -> list[Molecule]:
    """Up to spec.per_molecule conformers of a molecule (positions in Bohr).

    With optimize="dft" the raw ETKDG geometries are returned: `relax` relaxes them.

    Raises:
        EmbeddingError: ETKDG found no conformer within the timeout.
        MoleculeError: MMFF has no parameters (optimize="mmff"), or the atoms differ from
            the ingested ones (which would put the molecule in the wrong shape bucket).
    """
    mols = Molecule.conformers(entry.smiles, spec.per_molecule, seed=molecule_seed(global_seed, entry.id),
                               optimize="mmff" if spec.optimize == "mmff" else None,
                               timeout=spec.timeout_s)
    if tuple(int(z) for z in mols[0].numbers) != entry.numbers:
        raise MoleculeError(f"SMILES {entry.smiles!r}: conformer atoms differ from the ingested atom order")
    return mols
