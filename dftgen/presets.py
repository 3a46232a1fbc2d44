"""Named recipes: "qm1b" (what QM1B ran on IPUs), "accurate" (docs/numerics.md), and the levels
of theory of published datasets: "qm9", "ani1x" and the modern "wb97x-d3bj-def2-svp".

A preset is the SCF `Settings`, whether forces are computed by default, and a one-line
provenance string naming what it reproduces. Every setting can be overridden by keyword
(`run_dft(mol, preset="qm1b", basis="6-31g")`) or by the matching CLI flag.
"""

from __future__ import annotations

import dataclasses

from dftgen.basis import SHELLS
from dftgen.precision import PRECISIONS

ERI_METHODS = ("exact", "df", "auto")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that fixes the numbers of one calculation.

    Attributes:
        xc: functional name known to `dftgen.xc` ("b3lyp5", "b3lyp", "pbe", "hf", ...).
        basis: basis-set name known to PySCF.
        shells: "spherical" (2l+1 functions per shell, PySCF's default), "cartesian" (all
            Cartesian, PySCF's cart=True) or "6d7f" (Cartesian d, spherical f: Gaussian's
            default for the 6-31G family, as QM9 and ANI-1x were computed).
        grid_level: PySCF-style grid level, 0 (coarse) to 9.
        precision: "float32" iterations (final energy and orbital energies re-evaluated once
            in float64) or "float64" throughout.
        mode: "fixed" runs exactly `max_iter` iterations (a static JAX loop, as QM1B);
            "converge" stops when both `conv_tol` and `conv_tol_grad` are met.
        max_iter: iterations in fixed mode; the cap in converge mode.
        conv_tol: energy change between iterations, Hartree.
        conv_tol_grad: Frobenius norm of the orbital gradient F D S - S D F in the orthonormal
            basis; None means sqrt(conv_tol), as PySCF.
        diis_space: number of Fock/error pairs kept by Pulay DIIS (0 switches DIIS off).
        diis_start: first cycle (1-based) whose Fock matrix is extrapolated.
        init_guess: "minao" (superposition of atomic minimal-basis densities) or "core".
        level_shift: Hartree added to virtual orbital energies during iterations.
        orthogonalisation: "cholesky" or "lowdin" for the generalised eigenproblem.
        std_threshold_ev: a result is flagged converged when the std of its last five
            iteration energies is below this (QM1B's convergence proxy); in converge mode the
            tolerances decide.
        eri: the two-electron integrals: "exact" (the nao^4/8 ERIs), "df" (density fitting,
            as PySCF's mf.density_fit(): naux nao^2 / 2 values) or "auto" (df where the exact
            ERIs' P supermatrix would not fit in memory, `dftgen.scf.problem.PAIR_ERI_BYTES`).
        auxbasis: density fitting's auxiliary basis set, a name PySCF knows; None: PySCF's
            default for the basis (`pyscf.df.addons.make_auxbasis`). Only with eri "df" or
            "auto".
    """

    xc: str = "b3lyp5"
    basis: str = "sto-3g"
    shells: str = "spherical"
    grid_level: int = 0
    precision: str = "float32"
    mode: str = "fixed"
    max_iter: int = 20
    conv_tol: float = 1e-9
    conv_tol_grad: float | None = None
    diis_space: int = 9
    diis_start: int = 1
    init_guess: str = "minao"
    level_shift: float = 0.0
    orthogonalisation: str = "cholesky"
    std_threshold_ev: float = 0.01
    eri: str = "exact"
    auxbasis: str | None = None

    def __post_init__(self):
        checks = [
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.shells in SHELLS, f"shells must be one of {SHELLS}"),
            (self.mode in ("fixed", "converge"), "mode must be 'fixed' or 'converge'"),
            (0 <= self.grid_level <= 9, "grid_level must be 0..9"),
            (self.max_iter >= 1, "max_iter must be >= 1"),
            (self.diis_space >= 0, "diis_space must be >= 0"),
            (self.diis_start >= 1, "diis_start must be >= 1"),
            (self.init_guess in ("minao", "core"), "init_guess must be 'minao' or 'core'"),
            (self.orthogonalisation in ("cholesky", "lowdin"),
             "orthogonalisation must be 'cholesky' or 'lowdin'"),
            (self.conv_tol > 0, "conv_tol must be > 0"),
            (self.eri in ERI_METHODS, f"eri must be one of {ERI_METHODS}"),
            (self.auxbasis is None or (isinstance(self.auxbasis, str) and self.auxbasis != ""
                                       and self.eri != "exact"),
             "auxbasis must be a basis-set name, given only with eri 'df' or 'auto'"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"invalid SCF settings: {message} ({self!r})")

    @property
    def gradient_tolerance(self) -> float:
        return self.conv_tol**0.5 if self.conv_tol_grad is None else self.conv_tol_grad


def level_of_theory(settings: Settings) -> str:
    """The level of theory in one line, e.g. "b3lyp/6-31g(2df,p) (6d7f shells, grid level 3,
    exact ERIs)": what a dataset's metadata and card name."""
    eri = {"exact": "exact ERIs", "df": "density fitting", "auto": "exact ERIs or density fitting"}
    fitting = f" with {settings.auxbasis}" if settings.auxbasis else ""
    return (f"{settings.xc}/{settings.basis} ({settings.shells} shells, grid level "
            f"{settings.grid_level}, {eri[settings.eri]}{fitting})")


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named recipe: its SCF settings, whether forces (-dE/dR) are computed unless the
    caller says otherwise, and where its level of theory comes from (one line)."""

    settings: Settings
    forces: bool = False
    provenance: str = ""


# Converged float64 SCF at a fine grid, as the published datasets ran (Gaussian's default
# FineGrid is (75,302) per atom; PySCF's level 3 gives (50-75, 302))
_CONVERGED = dict(grid_level=3, precision="float64", mode="converge", max_iter=100,
                  conv_tol=1e-9, diis_space=8)

PRESETS: dict[str, Preset] = {
    # QM1B (Mathiasen et al. 2023): B3LYP with VWN5, STO-3G, grid level 0, float32 on the IPU,
    # exactly 20 iterations, DIIS with 9 vectors from the first cycle, minao guess.
    "qm1b": Preset(Settings(), provenance=(
        "QM1B (Mathiasen et al., NeurIPS 2023): B3LYP(VWN5)/STO-3G, grid level 0, 20 fixed "
        "float32 iterations, as PySCF-IPU ran it")),
    "accurate": Preset(Settings(xc="b3lyp", basis="6-31g*", **_CONVERGED), provenance=(
        "B3LYP/6-31G* converged in float64 (dftgen's reference level, PySCF conventions)")),
    "qm9": Preset(Settings(xc="b3lyp", basis="6-31g(2df,p)", shells="6d7f", eri="auto",
                           **_CONVERGED), forces=True, provenance=(
        "QM9 (Ramakrishnan et al., Sci. Data 1, 140022 (2014)): B3LYP/6-31G(2df,p) as in "
        "Gaussian 09, Cartesian d and spherical f, B3LYP with VWN-RPA")),
    "ani1x": Preset(Settings(xc="wb97x", basis="6-31g*", shells="6d7f", eri="auto",
                             **_CONVERGED), forces=True, provenance=(
        "ANI-1x (Smith et al., J. Chem. Phys. 148, 241733 (2018)): wB97X/6-31G(d) as in "
        "Gaussian 09, Cartesian d")),
    "wb97x-d3bj-def2-svp": Preset(Settings(xc="wb97x-d3bj", basis="def2-svp", eri="df",
                                           **_CONVERGED), forces=True, provenance=(
        "wB97X-D3BJ/def2-SVP with density fitting (def2-SVP-JKFIT): a modern "
        "dispersion-corrected hybrid at the basis of nablaDFT (which used wB97X-D)")),
}


def preset(name: str) -> Preset:
    """The preset of a name; ValueError naming the known ones otherwise."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name]


def default_forces(preset_or_settings: str | Settings) -> bool:
    """Whether forces are computed when the caller does not say: the preset's choice (on for
    the dataset presets); off for a Settings object."""
    return not isinstance(preset_or_settings, Settings) and preset(preset_or_settings).forces


def resolve(preset_or_settings: str | Settings = "qm1b", **overrides) -> Settings:
    """The settings of a preset (or a Settings object) with keyword overrides applied.

    Overrides whose value is None are ignored, so CLI flags left unset keep the preset's value.
    """
    if isinstance(preset_or_settings, Settings):
        base = preset_or_settings
    else:
        base = preset(preset_or_settings).settings
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown SCF setting(s) {unknown}; valid settings: {sorted(fields)}")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
