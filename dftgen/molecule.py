"""Molecules: atoms, nuclear positions (Bohr), charge and spin, from SMILES or xyz.

A `Molecule` is the input of every calculation. SMILES go through RDKit: explicit
hydrogens and one ETKDGv3 conformer per seed, unrelaxed by default, as QM1B did.
Positions are a (natoms, 3) array in Bohr; they may be a JAX array (a tracer under
`jax.grad`) so that integrals and energies differentiate with respect to them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from dftgen.elements import ANGSTROM_BOHR, BOHR_ANGSTROM, atomic_number, symbol


class MoleculeError(ValueError):
    """Bad molecular input: the message names the input and the problem."""


class SmilesError(MoleculeError):
    """RDKit could not parse or sanitise a SMILES string."""


class EmbeddingError(MoleculeError):
    """RDKit could not embed a conformer for a molecule."""


@dataclasses.dataclass(frozen=True)
class Molecule:
    """Atoms of a molecule.

    Attributes:
        numbers: atomic numbers, shape (natoms,), int.
        positions: nuclear positions in Bohr, shape (natoms, 3).
        charge: total charge in units of e.
        spin: number of unpaired electrons (2S), as PySCF's `Mole.spin`.
        name: where the molecule came from (a SMILES string, a file name), for messages.
    """

    numbers: np.ndarray
    positions: np.ndarray
    charge: int = 0
    spin: int = 0
    name: str = ""

    def __post_init__(self):
        numbers = np.asarray(self.numbers, dtype=np.int64).reshape(-1)
        for z in numbers:
            symbol(int(z))  # raises UnsupportedElementError naming the element
        object.__setattr__(self, "numbers", numbers)
        if isinstance(self.positions, (list, tuple, np.ndarray)):
            object.__setattr__(self, "positions", np.asarray(self.positions, dtype=np.float64))
        if len(numbers) == 0:
            raise MoleculeError(f"molecule {self.name!r} has no atoms")
        if tuple(self.positions.shape) != (len(numbers), 3):
            raise MoleculeError(
                f"molecule {self.name!r}: positions have shape {tuple(self.positions.shape)}, "
                f"expected ({len(numbers)}, 3)"
            )
        if isinstance(self.positions, np.ndarray):  # not a JAX tracer: the values are known
            _check_geometry(self.positions, self.name)
        if (self.n_electrons - self.spin) % 2:
            raise MoleculeError(
                f"molecule {self.name!r}: {self.n_electrons} electrons cannot have spin {self.spin}"
            )

    @property
    def symbols(self) -> list[str]:
        return [symbol(int(z)) for z in self.numbers]

    @property
    def natoms(self) -> int:
        return len(self.numbers)

    @property
    def n_electrons(self) -> int:
        return int(self.numbers.sum()) - int(self.charge)

    @property
    def n_heavy(self) -> int:
        return int((self.numbers > 1).sum())

    def with_positions(self, positions) -> Molecule:
        """The same atoms at other positions (Bohr); positions may be a JAX tracer."""
        return dataclasses.replace(self, positions=positions)

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def from_smiles(
        cls, smiles: str, seed: int = 0, optimize: str | None = None, timeout: float = 0.0
    ) -> Molecule:
        """One ETKDGv3 conformer of a SMILES string, with explicit hydrogens.

        Args:
            smiles: the molecule.
            seed: RDKit's random seed; the same seed gives the same conformer.
            optimize: None (the raw ETKDG geometry, as QM1B) or "mmff" (MMFF94 relaxation).
            timeout: seconds RDKit may spend embedding (0: no limit).
        """
        return cls.conformers(smiles, 1, seed=seed, optimize=optimize, timeout=timeout)[0]

    @classmethod
    def conformers(
        cls, smiles: str, n: int, seed: int = 0, optimize: str | None = None, timeout: float = 0.0
    ) -> list[Molecule]:
        """Up to `n` ETKDGv3 conformers of a SMILES string (RDKit may return fewer)."""
        from rdkit import Chem
        from rdkit.Chem import AllChem, Descriptors

        if optimize not in (None, "mmff"):
            raise ValueError(f"optimize must be None or 'mmff', got {optimize!r}")
        rdmol = _parse_smiles(smiles)
        for atom in rdmol.GetAtoms():
            z = atom.GetAtomicNum()
            if not 1 <= z <= 36:
                raise MoleculeError(
                    f"SMILES {smiles!r}: unsupported element {atom.GetSymbol()!r} "
                    "(dftgen handles H to Kr)"
                )
        rdmol = Chem.AddHs(rdmol)
        params = AllChem.ETKDGv3()
        # RDKit seeds conformer k from randomSeed by a Lehmer generator modulo 2^31 - 1, for
        # which 0 (and 2^31 - 1) is a fixed point: every conformer would be the same
        params.randomSeed = int(seed) % (2**31 - 2) + 1
        if timeout:
            params.timeout = int(max(1, round(timeout)))
        conf_ids = list(AllChem.EmbedMultipleConfs(rdmol, numConfs=int(n), params=params))
        if not conf_ids:
            raise EmbeddingError(
                f"SMILES {smiles!r}: RDKit's ETKDGv3 could not embed a conformer (seed {seed})"
            )
        if optimize == "mmff":
            if not AllChem.MMFFHasAllMoleculeParams(rdmol):
                raise MoleculeError(f"SMILES {smiles!r}: MMFF94 has no parameters for this molecule")
            AllChem.MMFFOptimizeMoleculeConfs(rdmol, numThreads=1)
        numbers = np.array([a.GetAtomicNum() for a in rdmol.GetAtoms()])
        charge = Chem.GetFormalCharge(rdmol)
        spin = Descriptors.NumRadicalElectrons(rdmol)
        return [
            cls(
                numbers=numbers,
                positions=rdmol.GetConformer(cid).GetPositions() * ANGSTROM_BOHR,
                charge=charge,
                spin=spin,
                name=smiles,
            )
            for cid in conf_ids
        ]

    @classmethod
    def from_xyz(cls, path_or_text: str | os.PathLike, charge: int = 0, spin: int = 0) -> Molecule:
        """A molecule from a standard xyz file or its text (positions in Angstrom)."""
        text, name = _xyz_source(path_or_text)
        lines = text.strip("\n").splitlines()
        try:
            natoms = int(lines[0].split()[0])
        except (IndexError, ValueError):
            raise MoleculeError(f"xyz {name}: first line must be the number of atoms") from None
        atom_lines = lines[2 : 2 + natoms]
        if len(atom_lines) != natoms:
            raise MoleculeError(f"xyz {name}: expected {natoms} atoms, found {len(atom_lines)}")
        numbers, coords = [], []
        for i, line in enumerate(atom_lines, start=3):
            fields = line.split()
            try:
                coords.append([float(x) for x in fields[1:4]])
            except ValueError:
                raise MoleculeError(f"xyz {name}, line {i}: cannot read coordinates {line!r}") from None
            if len(fields) < 4:
                raise MoleculeError(f"xyz {name}, line {i}: expected 'symbol x y z', got {line!r}")
            label = fields[0]
            try:
                numbers.append(int(label) if label.isdigit() else atomic_number(label))
            except ValueError as err:
                raise MoleculeError(f"xyz {name}, line {i}: {err}") from None
        return cls(numbers, np.array(coords) * ANGSTROM_BOHR, charge=charge, spin=spin, name=name)

    def to_xyz(self, comment: str | None = None) -> str:
        """Standard xyz text, positions in Angstrom."""
        pos = np.asarray(self.positions) * BOHR_ANGSTROM
        lines = [str(self.natoms), self.name if comment is None else comment]
        lines += [f"{s:<2s} {x:16.10f} {y:16.10f} {z:16.10f}" for s, (x, y, z) in zip(self.symbols, pos)]
        return "\n".join(lines) + "\n"

    def to_pyscf(self, basis: str = "sto-3g", **kwargs):
        """The same molecule as a built `pyscf.gto.Mole` (for tests and comparisons)."""
        from pyscf import gto

        atom = [(s, tuple(map(float, p))) for s, p in zip(self.symbols, np.asarray(self.positions))]
        return gto.M(atom=atom, unit="Bohr", basis=basis, charge=self.charge, spin=self.spin,
                     verbose=0, **kwargs)


MIN_DISTANCE_BOHR = 0.2  # closer nuclei are an input error (typos, duplicated lines), not chemistry


def _check_geometry(positions: np.ndarray, name: str) -> None:
    """MoleculeError for coordinates that are not finite or nuclei that (nearly) coincide."""
    bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
    if len(bad):
        raise MoleculeError(f"molecule {name!r}: atom {bad[0] + 1} has coordinates that are not "
                            f"finite numbers {positions[bad[0]].tolist()}")
    if len(positions) > 1:
        d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
        d[np.diag_indices(len(positions))] = np.inf
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] < MIN_DISTANCE_BOHR:
            raise MoleculeError(f"molecule {name!r}: atoms {min(i, j) + 1} and {max(i, j) + 1} are "
                                f"{d[i, j] * BOHR_ANGSTROM:.3f} Angstrom apart")


def _parse_smiles(smiles: str):
    from rdkit import Chem, RDLogger

    if not isinstance(smiles, str) or not smiles.strip():
        raise SmilesError(f"SMILES {smiles!r}: empty")
    RDLogger.DisableLog("rdApp.*")  # the exception below carries the message instead
    try:
        rdmol = Chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")
    if rdmol is None:
        raise SmilesError(f"SMILES {smiles!r}: RDKit cannot parse or sanitise it")
    return rdmol


def _xyz_source(path_or_text) -> tuple[str, str]:
    if isinstance(path_or_text, os.PathLike) or "\n" not in str(path_or_text):
        path = Path(path_or_text)
        if not path.is_file():
            raise MoleculeError(f"xyz file {str(path)!r} does not exist")
        return path.read_text(), str(path)
    return str(path_or_text), "<text>"
