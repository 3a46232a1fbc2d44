"""Ingest: raw SMILES -> sanitised, canonical, deduplicated, filtered molecules.

Each raw SMILES is parsed and sanitised by RDKit and written canonically; its molecule id
comes from the canonical SMILES, so the same molecule has the same id in every run. A
molecule dftgen cannot or should not compute (unparseable, an element outside the allowed
set, charged, open shell) is recorded as a failure with its stage; a molecule outside the
size filters (heavy atoms, hydrogens) or a duplicate is only counted, since QM9 or GDB-11
hold many of those by design.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Iterable

from dftgen.pipeline.failures import Failure
from dftgen.pipeline.sources import RawSmiles
from dftgen.pipeline.spec import FilterSection


@dataclasses.dataclass(frozen=True)
class MoleculeEntry:
    """A molecule ready for conformers.

    id: from the canonical SMILES (`molecule_id`).  smiles: canonical SMILES.
    numbers: atomic numbers in the order RDKit gives them with explicit hydrogens (heavy
    atoms first, then hydrogens), which is the atom order of every conformer.
    """

    id: int
    smiles: str
    numbers: tuple[int, ...]

    @property
    def n_heavy(self) -> int:
        return sum(1 for z in self.numbers if z > 1)

    @property
    def n_hydrogens(self) -> int:
        return sum(1 for z in self.numbers if z == 1)


@dataclasses.dataclass
class IngestResult:
    molecules: list[MoleculeEntry]
    failures: list[Failure]
    counts: Counter  # read, parse_failed, rejected, filtered_size, duplicate, kept


def molecule_id(smiles: str) -> int:
    """A 60-bit integer id from a (canonical) SMILES: the first 15 hex digits of its SHA-256."""
    return int(hashlib.sha256(smiles.encode()).hexdigest()[:15], 16)


def ingest(raw: Iterable[RawSmiles], filt: FilterSection) -> IngestResult:
    """Parse, canonicalise, check and filter SMILES in source order; keep every
    `filt.every`-th molecule that passes, and stop after `filt.limit` kept molecules."""
    from rdkit import Chem, RDLogger

    allowed = {e.capitalize() for e in filt.elements}
    seen: set[int] = set()
    molecules: list[MoleculeEntry] = []
    failures: list[Failure] = []
    counts: Counter = Counter()
    RDLogger.DisableLog("rdApp.*")  # failures carry the messages instead
    try:
        for item in raw:
            if filt.limit is not None and len(molecules) >= filt.limit:
                break
            counts["read"] += 1
            mol = Chem.MolFromSmiles(item.smiles) if item.smiles else None
            if mol is None:
                counts["parse_failed"] += 1
                failures.append(Failure.of_molecule(
                    molecule_id(item.smiles), item.smiles, "parse", "SmilesError",
                    f"{item.origin}: RDKit cannot parse or sanitise SMILES {item.smiles!r}"))
                continue
            canonical = Chem.MolToSmiles(mol)
            mid = molecule_id(canonical)
            problem = _rejection(mol, allowed)
            if problem is not None:
                counts["rejected"] += 1
                failures.append(Failure.of_molecule(mid, canonical, "ingest", problem[0],
                                                    f"{item.origin}: {problem[1]}"))
                continue
            # conformers are embedded from the canonical SMILES: take its atom order
            numbers = tuple(a.GetAtomicNum() for a in Chem.AddHs(Chem.MolFromSmiles(canonical)).GetAtoms())
            entry = MoleculeEntry(mid, canonical, numbers)
            lo, hi = filt.heavy_atoms
            if not lo <= entry.n_heavy <= hi or (
                filt.max_hydrogens is not None and entry.n_hydrogens > filt.max_hydrogens
            ):
                counts["filtered_size"] += 1
                continue
            if mid in seen:
                counts["duplicate"] += 1
                continue
            seen.add(mid)
            counts["passed"] += 1
            if (counts["passed"] - 1) % filt.every:
                counts["skipped_every"] += 1
                continue
            molecules.append(entry)
    finally:
        RDLogger.EnableLog("rdApp.*")
    counts["kept"] = len(molecules)
    return IngestResult(molecules, failures, counts)


def _rejection(mol, allowed: set[str]) -> tuple[str, str] | None:
    """(error, message) when the molecule is outside what the pipeline computes."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    bad = sorted({a.GetSymbol() for a in mol.GetAtoms()} - allowed)
    if bad:
        return "UnsupportedElement", f"element(s) {bad} not in the allowed set {sorted(allowed)}"
    charge = Chem.GetFormalCharge(mol)
    if charge != 0:
        return "ChargedMolecule", f"total charge {charge:+d}; the pipeline computes neutral molecules"
    radicals = Descriptors.NumRadicalElectrons(mol)
    if radicals:
        return "OpenShell", f"{radicals} unpaired electron(s); restricted Kohn-Sham needs a closed shell"
    return None
