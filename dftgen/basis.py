"""Gaussian basis sets as static, JAX-friendly arrays.

Basis-set data (exponents, contraction coefficients) come from PySCF's library by name, so
any basis PySCF knows works here (sto-3g, 6-31g, 6-31g*, 6-31g(2df,p), def2-svp, ...).
Everything else is computed here: primitive and contraction normalisation, and the map from
a shell's Cartesian monomials to its AOs.

Conventions, identical to PySCF's so matrices compare element by element:
  * A spherical shell of angular momentum l holds 2l+1 AOs, a Cartesian one (l+1)(l+2)/2
    (PySCF's `cart=True`). `build`'s `shells` picks per angular momentum (SHELLS): all
    spherical (PySCF's default), all Cartesian, or "6d7f", Cartesian d with spherical f
    (Gaussian's default for the 6-31G family: QM9, ANI-1x). s and p functions are the same
    either way, so only shells with l >= 2 are ever Cartesian.
  * AO order: shells in atom order, within an atom in the order of the basis file (one shell
    per contraction column); within a shell p is (x, y, z), spherical l >= 2 is
    m = -l, ..., l, and Cartesian l >= 2 is the order of the Cartesian components.
  * Cartesian components of a shell are ordered x^a y^b z^c with a descending, then b
    descending (xx, xy, xz, yy, yz, zz).
  * A spherical AO is  sum_p c_p exp(-alpha_p r^2) * r^l Y_lm(r_hat)  with real,
    unit-normalised Y_lm and the contraction normalised to one. A Cartesian AO with l >= 2 is
    sum_p c_p exp(-alpha_p r^2) x^a y^b z^c with the same c_p (radially normalised only, as
    libcint: <xx|xx> = 4 pi/5, <xy|xy> = 4 pi/15 for a d shell).

Units: exponents in Bohr^-2, centres in Bohr.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from dftgen import pyscf_data
from dftgen.elements import UnsupportedElementError, symbol

L_MAX = 3  # s, p, d, f
L_MAX_AUXILIARY = 4  # fitting sets for density fitting (def2 jkfit) carry g functions

#: the `shells` settings and the angular momenta each makes Cartesian
CARTESIAN_LS = {"spherical": (), "cartesian": tuple(range(2, L_MAX_AUXILIARY + 1)), "6d7f": (2,)}
SHELLS = tuple(CARTESIAN_LS)


class BasisError(ValueError):
    """A basis set that cannot be used: unknown name, or shells beyond f."""


@dataclasses.dataclass(frozen=True)
class Shell:
    """One contracted shell.

    Attributes:
        atom: index of the atom it sits on.
        l: angular momentum (0..3).
        exponents: primitive exponents alpha_p in Bohr^-2, shape (nprim,).
        coefficients: contraction coefficients c_p, shape (nprim,), including the radial
            normalisation of each primitive and of the contraction (see the module docstring).
        cartesian: whether its functions are the Cartesian components (else spherical).
    """

    atom: int
    l: int
    exponents: tuple[float, ...]
    coefficients: tuple[float, ...]
    cartesian: bool = False

    @property
    def nprim(self) -> int:
        return len(self.exponents)

    @property
    def nsph(self) -> int:
        return 2 * self.l + 1

    @property
    def ncart(self) -> int:
        return (self.l + 1) * (self.l + 2) // 2

    @property
    def nfunc(self) -> int:
        """Its AOs: ncart if Cartesian, else nsph."""
        return self.ncart if self.cartesian else self.nsph


@dataclasses.dataclass(frozen=True, eq=False)
class BasisSet:
    """The shells of one basis set on one molecule, with padded arrays for JAX.

    Array attributes (numpy; the integrals gather centres from the molecule's positions
    through `shell_atom`, so positions stay differentiable):
        shell_atom: (nshell,) int, atom of each shell.
        shell_l: (nshell,) int, angular momentum.
        nprim: (nshell,) int, number of primitives.
        exponents: (nshell, max_nprim), padded with 1.0 (a harmless exponent).
        coefficients: (nshell, max_nprim), padded with 0.0, so padding contributes nothing.
        ao_loc: (nshell + 1,) int, first AO of each shell; ao_loc[-1] == nao.
    """

    name: str
    shells: tuple[Shell, ...]
    numbers: tuple[int, ...]

    def __post_init__(self):
        nsh = len(self.shells)
        max_nprim = max(s.nprim for s in self.shells)
        exps = np.ones((nsh, max_nprim))
        coefs = np.zeros((nsh, max_nprim))
        for i, s in enumerate(self.shells):
            exps[i, : s.nprim] = s.exponents
            coefs[i, : s.nprim] = s.coefficients
        sizes = [s.nfunc for s in self.shells]
        arrays = dict(
            shell_atom=np.array([s.atom for s in self.shells], dtype=np.int64),
            shell_l=np.array([s.l for s in self.shells], dtype=np.int64),
            nprim=np.array([s.nprim for s in self.shells], dtype=np.int64),
            exponents=exps,
            coefficients=coefs,
            ao_loc=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        )
        for key, value in arrays.items():
            value.setflags(write=False)
            object.__setattr__(self, key, value)

    @property
    def nshell(self) -> int:
        return len(self.shells)

    @property
    def nao(self) -> int:
        return int(self.ao_loc[-1])

    @property
    def max_l(self) -> int:
        return int(self.shell_l.max())

    @property
    def ao_atom(self) -> np.ndarray:
        """(nao,) int: the atom each AO sits on."""
        return np.repeat(self.shell_atom, np.diff(self.ao_loc))

    @property
    def shape_key(self) -> tuple:
        """Everything about the basis that fixes array shapes: equal keys can share a compiled
        program (molecules of one shape bucket)."""
        return (self.name, tuple((s.atom, s.l, s.nprim, s.cartesian) for s in self.shells))

    def __repr__(self) -> str:
        return f"BasisSet({self.name!r}, nshell={self.nshell}, nao={self.nao}, max_l={self.max_l})"


def build(mol, name: str, shells: str = "spherical", l_max: int = L_MAX) -> BasisSet:
    """The basis set `name` (any name PySCF knows) on the atoms of `mol`, with spherical or
    Cartesian shells as `shells` says (one of SHELLS, see the module docstring). l_max:
    L_MAX for orbital bases, L_MAX_AUXILIARY for the auxiliary bases of density fitting.

    Raises:
        BasisError: PySCF does not know the name, or a shell has l > l_max, or `shells` is
            unknown.
        UnsupportedElementError: the basis set has no functions for an element of `mol`.
    """
    if shells not in CARTESIAN_LS:
        raise BasisError(f"unknown shells {shells!r}; choose from {SHELLS}")
    cartesian = CARTESIAN_LS[shells]
    built = tuple(Shell(atom, l, exps, coefs, l in cartesian)
                  for atom, z in enumerate(mol.numbers)
                  for l, exps, coefs in _element_shells(name, int(z), l_max))
    return BasisSet(name=name.lower(), shells=built, numbers=tuple(int(z) for z in mol.numbers))


@functools.lru_cache(maxsize=None)
def _element_shells(name: str, z: int, l_max: int = L_MAX) -> tuple[tuple[int, tuple[float, ...], tuple[float, ...]], ...]:
    """(l, exponents, normalised coefficients) for each shell of element z in basis `name`."""
    element = symbol(z)
    try:
        raw = pyscf_data.basis(name, element)
    except (KeyError, RuntimeError, OSError, ValueError) as err:
        if _is_known_basis(name):
            raise UnsupportedElementError(
                f"basis {name!r} has no functions for element {element}"
            ) from None
        raise BasisError(f"unknown basis set {name!r}: {err}") from None
    if not raw:
        raise UnsupportedElementError(f"basis {name!r} has no functions for element {element}")
    shells = []
    for entry in raw:
        l = int(entry[0])
        rows = entry[2:] if isinstance(entry[1], (int, np.integer)) else entry[1:]  # skip kappa
        if l > l_max:
            raise BasisError(f"basis {name!r}, element {element}: l={l} shell; dftgen supports "
                             f"l <= {l_max} here ({'spdfg'[:l_max + 1]})")
        table = np.array(rows, dtype=np.float64)
        exps = table[:, 0]
        for column in table[:, 1:].T:
            keep = column != 0.0
            coefs = normalised_contraction(l, exps[keep], column[keep])
            shells.append((l, tuple(exps[keep]), tuple(coefs)))
    return tuple(shells)


def _is_known_basis(name: str) -> bool:
    """Whether PySCF has `name` at all (for telling an unknown basis from a missing element)."""
    for element in ("H", "C"):
        try:
            if pyscf_data.basis(name, element):
                return True
        except (KeyError, RuntimeError, OSError, ValueError):
            continue
    return False


def _radial_integral(n: int, alpha):
    """int_0^inf r^n exp(-alpha r^2) dr = Gamma((n+1)/2) / (2 alpha^((n+1)/2))."""
    return math.gamma((n + 1) / 2) / (2.0 * np.power(alpha, (n + 1) / 2))


def normalised_contraction(l: int, exps: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Coefficients that normalise each primitive r^l exp(-a r^2) radially (over r^2 dr) and
    then the whole contraction to one."""
    exps = np.asarray(exps, dtype=np.float64)
    prim_norm = 1.0 / np.sqrt(_radial_integral(2 * l + 2, 2 * exps))
    c = np.asarray(coefs, dtype=np.float64) * prim_norm
    overlap = _radial_integral(2 * l + 2, exps[:, None] + exps[None, :])
    return c / np.sqrt(c @ overlap @ c)


# -- angular parts -----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def cart_powers(l: int) -> tuple[tuple[int, int, int], ...]:
    """Exponents (a, b, c) of x^a y^b z^c for the Cartesian components of a shell, PySCF order."""
    return tuple((a, b, l - a - b) for a in range(l, -1, -1) for b in range(l - a, -1, -1))


@functools.lru_cache(maxsize=None)
def cart2sph(l: int) -> np.ndarray:
    """(ncart, 2l+1) matrix C with r^l Y_lm = sum_k C[k, m] x^a_k y^b_k z^c_k, PySCF's m order.

    Y_lm are the real spherical harmonics normalised to one on the unit sphere; the
    polynomial expansion of the real solid harmonics follows Helgaker, Jorgensen & Olsen,
    Molecular Electronic-Structure Theory, eq. 6.4.47-6.4.50 (Racah normalisation), scaled
    by sqrt((2l+1) / 4 pi).
    """
    powers = cart_powers(l)
    index = {p: k for k, p in enumerate(powers)}
    ms = (1, -1, 0) if l == 1 else tuple(range(-l, l + 1))
    out = np.zeros((len(powers), 2 * l + 1))
    for col, m in enumerate(ms):
        am = abs(m)
        n_lm = math.sqrt(2 * math.factorial(l + am) * math.factorial(l - am) / (2.0 if m == 0 else 1.0))
        n_lm /= 2**am * math.factorial(l)
        vm = 0.5 if m < 0 else 0.0
        for t in range((l - am) // 2 + 1):
            for u in range(t + 1):
                v = vm
                while v <= math.floor(am / 2 - vm) + vm + 1e-9:
                    coef = (
                        (-1) ** round(t + v - vm)
                        * 0.25**t
                        * math.comb(l, t)
                        * math.comb(l - t, am + t)
                        * math.comb(t, u)
                        * math.comb(am, round(2 * v))
                    )
                    a = round(2 * t + am - 2 * (u + v))
                    b = round(2 * (u + v))
                    c = l - 2 * t - am
                    out[index[(a, b, c)], col] += n_lm * coef
                    v += 1.0
    return out * math.sqrt((2 * l + 1) / (4 * math.pi))


@functools.lru_cache(maxsize=None)
def cart2ao(l: int, cartesian: bool) -> np.ndarray:
    """(ncart, nfunc) matrix from the Cartesian monomials of a shell to its AOs: cart2sph(l)
    for a spherical shell; for a Cartesian one diagonal, with libcint's factor: s and p carry
    the spherical ones' (so they are the same functions), d and higher none (module docstring)."""
    if not cartesian:
        return cart2sph(l)
    scale = math.sqrt((2 * l + 1) / (4 * math.pi)) if l <= 1 else 1.0
    return scale * np.eye(len(cart_powers(l)))
