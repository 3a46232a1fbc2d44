"""Chemical elements and unit conversions used throughout dftgen.

Internal units are Bohr and Hartree (docs/numerics.md); the conversion constants are
the ones PySCF uses (pyscf.data.nist), so conversions agree with it digit for digit.
"""

BOHR_ANGSTROM = 0.52917721092  # Angstrom per Bohr
ANGSTROM_BOHR = 1.0 / BOHR_ANGSTROM
HARTREE_EV = 27.21138602  # eV per Hartree
DEBYE_AU = 2.5417464157449032  # Debye per atomic unit of dipole (e * Bohr)

SYMBOLS = (
    "X",
    "H", "He",
    "Li", "Be", "B", "C", "N", "O", "F", "Ne",
    "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr",
)

_NUMBER = {s.upper(): z for z, s in enumerate(SYMBOLS) if z > 0}


class UnsupportedElementError(ValueError):
    """An element dftgen cannot handle (outside H..Kr, or absent from a basis set)."""


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol, case-insensitive ("c" -> 6)."""
    z = _NUMBER.get(symbol.strip().upper())
    if z is None:
        raise UnsupportedElementError(
            f"unsupported element {symbol!r}: dftgen handles H to Kr (Z = 1..{len(SYMBOLS) - 1})"
        )
    return z


def symbol(z: int) -> str:
    """Element symbol of an atomic number (6 -> "C")."""
    if not 1 <= z < len(SYMBOLS):
        raise UnsupportedElementError(
            f"unsupported element Z={z}: dftgen handles H to Kr (Z = 1..{len(SYMBOLS) - 1})"
        )
    return SYMBOLS[z]
