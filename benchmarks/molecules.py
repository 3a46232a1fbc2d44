"""QM1B-like benchmark molecules: 9-11 heavy atoms of C, N, O, F and at most 14 hydrogens.

Shared by every benchmark so that tables from different scripts describe the same molecules.
Each is embedded with ETKDGv3 at seed 0, unrelaxed, as QM1B did.
"""

QM1B_LIKE_SMILES = (
    "CC1=NOC(C)=C1C(N)=O",
    "Oc1ccccc1CO",
    "CC(=O)Nc1ccc(O)cc1",
    "CC(C)(C)c1ccc(O)cc1",
    "OC1CCC(CC1)C(N)=O",
    "CC1(C)OC(=O)C=C1C#N",
    "NC(=O)c1ccncc1O",
    "CN1C=NC2=C1C(=O)NC=N2",
    "O=C1NC(=O)C2=C1C=CN2",
    "CC(O)C1=CC=C(F)C=C1",
    "FC(F)(F)c1ccccn1",
    "CC12CC(O)C1C(C2)C#N",
    "OCC1OC(O)C(O)C1O",
    "CC#CC1=CC=C(N)N=C1",
    "COC1=CC=CC(F)=C1C",
    "CCOC(=O)C1=CN=CN1",
    "N#CC1=CC=C(O)C=C1F",
    "CC1=NC=C(C=O)C(C)=C1",
    "CC1=CC=C(C=C1)C(N)=O",
    "O=CC1=CC=C2OCOC2=C1",
    "CC(C)C(=O)NC(C)C#N",
    "CC1=C(O)C(=O)C=CO1",
    "NC1=NC(=O)C2=C(N1)N=CN2",
    "OC1=CC=C(C=C1)C#N",
)


def molecules(n: int | None = None, seed: int = 0):
    """The first `n` benchmark molecules as `dftgen.Molecule` (all when n is None)."""
    from dftgen import Molecule

    return [Molecule.from_smiles(s, seed=seed) for s in QM1B_LIKE_SMILES[:n]]
