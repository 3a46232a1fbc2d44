"""QM9's published labels at QM9's own geometries, read from qm9pack's local files.

QM9 (Ramakrishnan et al., Sci. Data 1, 140022 (2014)) relaxed 133,885 molecules at
B3LYP/6-31G(2df,p) in Gaussian 09. Its files give the internal energy at 0 K, U0, which is
the electronic energy plus the harmonic zero-point vibrational energy (ZPVE), so the
electronic energy a single-point calculation reproduces is U0 - ZPVE. HOMO and LUMO are given
to 1e-4 Ha, U0 and ZPVE to 1e-6 Ha.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dftgen.elements import ANGSTROM_BOHR, atomic_number
from dftgen.molecule import Molecule
from dftgen.pipeline.sources import QM9_FILES, qm9_folder

_COLUMNS = ["Index", "SMILES", "Elements", "XYZ_Ang", "HOMO_au", "LUMO_au", "ZPVE_au",
            "InternalEnergy_0K_au"]


@dataclass(frozen=True)
class QM9Label:
    """One QM9 molecule: its 1-based QM9 index, SMILES, geometry, and the published electronic
    energy (U0 - ZPVE), HOMO and LUMO in Hartree."""

    index: int
    smiles: str
    molecule: Molecule
    energy_ha: float
    homo_ha: float
    lumo_ha: float


def qm9_labels(indices: Iterable[int]) -> list[QM9Label]:
    """The QM9 molecules of the given 1-based indices (dsgdb9nsd_XXXXXX), in that order.

    Raises:
        KeyError: an index is not in QM9.
    """
    import pyarrow.csv as pacsv

    wanted = set(indices)
    found: dict[int, QM9Label] = {}
    for name in QM9_FILES:
        table = pacsv.read_csv(qm9_folder() / name,
                               convert_options=pacsv.ConvertOptions(include_columns=_COLUMNS))
        for row in table.to_pylist():
            if row["Index"] in wanted:
                found[row["Index"]] = _label(row)
        if len(found) == len(wanted):
            break
    missing = sorted(wanted - set(found))
    if missing:
        raise KeyError(f"QM9 has no molecule with index {missing}")
    return [found[i] for i in indices]


def _label(row: dict) -> QM9Label:
    # Python literals: "['C','H']" and numbers such as "0." that JSON does not accept
    symbols = ast.literal_eval(row["Elements"])
    positions = np.asarray(ast.literal_eval(row["XYZ_Ang"]), dtype=float) * ANGSTROM_BOHR
    molecule = Molecule([atomic_number(s) for s in symbols], positions,
                        name=f"qm9:{row['Index']} {row['SMILES']}")
    return QM9Label(
        index=row["Index"], smiles=row["SMILES"], molecule=molecule,
        energy_ha=row["InternalEnergy_0K_au"] - row["ZPVE_au"],
        homo_ha=row["HOMO_au"], lumo_ha=row["LUMO_au"],
    )
