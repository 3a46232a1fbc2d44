"""Exchange-correlation functionals: components, named mixtures, and their safe evaluation.

A `Functional` is a weighted sum of semi-local `Component`s plus a fraction `hybrid` of exact
(Hartree-Fock) exchange that the SCF adds itself. Names and coefficients are PySCF's (checked
against `pyscf.dft.libxc.parse_xc` / `hybrid_coeff`, PySCF 2.14 with libxc 7):

    lda     slater                          (PySCF's "lda" is exchange only)
    svwn    slater + vwn5
    blyp    b88 + lyp
    pbe     pbe_x + pbe_c
    b3lyp   0.08 slater + 0.72 b88 + 0.19 vwn_rpa + 0.81 lyp, hybrid 0.2   (PySCF >= 2.3)
    b3lyp5  0.08 slater + 0.72 b88 + 0.19 vwn5    + 0.81 lyp, hybrid 0.2   (QM1B's B3LYP)
    pbe0    0.75 pbe_x + pbe_c, hybrid 0.25
    hf      no semi-local part, hybrid 1.0
    camb3lyp  0.35 b88 + 0.46 ityh_b88 + 0.19 vwn5 + 0.81 lyp, hybrid 0.19, long_range 0.46,
              omega 0.33 (alias cam_b3lyp; ityh_b88 is the short-range B88 of
              `dftgen.xc.attenuated` at omega 0.33, where libxc's GGA_X_ITYH defaults to 0.2)

and every component is a functional of its own name.

Low density. Every component returns exactly zero energy density (and zero derivatives) at
points where rho <= its threshold, as libxc does. In float64 the thresholds are libxc's
defaults, found by probing libxc 7 through PySCF: its `dens_threshold` of 1e-15 applies per
spin channel to exchange (so rho <= 2e-15 in total for slater, b88, pbe_x), to the total density
for VWN (1e-15), and LYP and PBE correlation carry larger ones (1e-14 and 1e-12), as does
ITYH exchange (1e-14 per spin channel, so 2e-14 in total). Points that thin contribute nothing
measurable to an energy (exchange of a 1e-12 density over 1e4 Bohr^3 of grid tail is ~1e-12
Ha). In float32 every threshold is raised to RHO_MIN_FLOAT32 = 1e-8: the second
derivatives of the GGA terms scale like sigma rho^(-14/3), and with rho^(-1/3) <= 464 every
intermediate of the first and second derivatives stays below float32's 3.4e38 (at 1e-12 the
second derivatives overflow). The XC energy held by points below 1e-8 is 0.5-4e-8 of the total
(water and a 10-heavy-atom molecule, STO-3G, grid levels 0 and 3), under float32's rounding
of 6e-8, and 2e-11 below 1e-10. float32 also caps the reduced
gradient, sigma <= X2_MAX_FLOAT32 * rho^(8/3) (x^2 <= 1e10, where molecular densities above
1e-8 stay below 1e7), for the same overflow reason; float64 needs no cap.

Gradients stay finite with the "double where": inactive points are evaluated at the harmless
density 1 (and sigma 0) and then masked, so neither branch produces inf or NaN in jax.grad.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from dftgen import executables
from dftgen.precision import dtype as precision_dtype
from dftgen.xc import attenuated, b97, gga, lda

RHO_MIN_FLOAT32 = 1e-8
X2_MAX_FLOAT32 = 1e10


@dataclass(frozen=True)
class Component:
    """One semi-local functional: energy density per volume e(rho) or e(rho, sigma).

    `threshold` is libxc's: e vanishes where rho <= threshold.
    """

    name: str
    energy: Callable
    threshold: float
    is_gga: bool


COMPONENTS = {
    c.name: c
    for c in (
        Component("slater", lda.slater, 2e-15, is_gga=False),
        Component("vwn5", lda.vwn5, 1e-15, is_gga=False),
        Component("vwn_rpa", lda.vwn_rpa, 1e-15, is_gga=False),
        Component("b88", gga.b88, 2e-15, is_gga=True),
        Component("ityh_b88", attenuated.cam_b3lyp_short_range_b88, 2e-14, is_gga=True),
        Component("lyp", gga.lyp, 1e-14, is_gga=True),
        Component("pbe_x", gga.pbe_x, 2e-15, is_gga=True),
        Component("pbe_c", gga.pbe_c, 1e-12, is_gga=True),
        Component("wb97_semilocal", b97.wb97, 1e-14, is_gga=True),
        Component("wb97x_semilocal", b97.wb97x, 1e-14, is_gga=True),
        Component("wb97x_v_semilocal", b97.wb97x_v, 1e-14, is_gga=True),
    )
}


@dataclass(frozen=True)
class Functional:
    """A named mixture: sum of weight * component, plus `hybrid` times exact exchange, plus
    for a range-separated hybrid `long_range` times the exact exchange of erf(omega r)/r
    (so the long-range exact-exchange fraction is hybrid + long_range; PySCF's rsh_coeff
    gives (omega, hybrid + long_range, -long_range)).

    d3bj: None, or the functional whose D3(BJ) dispersion parameters apply, the correction
    added after the SCF (see `dftgen.dispersion`), e.g. "b3lyp" for "b3lyp-d3bj"."""

    name: str
    terms: tuple[tuple[float, Component], ...]
    hybrid: float = 0.0
    d3bj: str | None = None
    omega: float = 0.0  # Bohr^-1
    long_range: float = 0.0

    @property
    def is_range_separated(self) -> bool:
        return self.long_range != 0.0

    @property
    def is_gga(self) -> bool:
        """Whether the functional needs density gradients (sigma)."""
        return any(c.is_gga for _, c in self.terms)


def _mixture(name, weighted_names, hybrid=0.0):
    return Functional(name, tuple((w, COMPONENTS[c]) for w, c in weighted_names), hybrid)


def _b3lyp(name, lda_correlation, a0=0.20, ax=0.72, ac=0.81):
    """Becke's three-parameter hybrid (J. Chem. Phys. 98, 5648) with LYP, libxc's weights."""
    terms = ((1.0 - a0 - ax, "slater"), (ax, "b88"), (1.0 - ac, lda_correlation), (ac, "lyp"))
    return _mixture(name, terms, hybrid=a0)


def _cam_b3lyp(alpha=0.19, beta=0.46, ac=0.81):
    """Yanai, Tew and Handy's CAM-B3LYP (Chem. Phys. Lett. 393, 51), libxc's weights: exact
    exchange of the interaction (alpha + beta erf(omega r)) / r, B88 exchange of the rest,
    (1 - alpha - beta) / r + beta erfc(omega r) / r, whose second part is ITYH-B88; VWN5 and
    LYP correlation as in B3LYP."""
    terms = ((1.0 - alpha - beta, "b88"), (beta, "ityh_b88"), (1.0 - ac, "vwn5"), (ac, "lyp"))
    return dataclasses.replace(_mixture("camb3lyp", terms, hybrid=alpha),
                               omega=attenuated.CAM_B3LYP_OMEGA, long_range=beta)


def _range_separated(name: str, component: str, params, long_range: float) -> Functional:
    """A B97-type range-separated hybrid: exact exchange 1 at long range, 1 - long_range at
    short range (`dftgen.xc.b97`)."""
    return Functional(name, ((1.0, COMPONENTS[component]),), hybrid=1.0 - long_range,
                      omega=params.omega, long_range=long_range)


def _with_d3bj(f: Functional) -> Functional:
    """`f` with Grimme's D3(BJ) dispersion: named as PySCF names it, f.name + "-d3bj"."""
    return Functional(f"{f.name}-d3bj", f.terms, f.hybrid, d3bj=f.name)


_SEMILOCAL_AND_HYBRIDS = {
    f.name: f
    for f in (
        *(_mixture(name, ((1.0, name),)) for name in COMPONENTS),
        _mixture("lda", ((1.0, "slater"),)),
        _mixture("svwn", ((1.0, "slater"), (1.0, "vwn5"))),
        _mixture("blyp", ((1.0, "b88"), (1.0, "lyp"))),
        _mixture("pbe", ((1.0, "pbe_x"), (1.0, "pbe_c"))),
        _b3lyp("b3lyp", "vwn_rpa"),
        _b3lyp("b3lyp5", "vwn5"),
        _mixture("pbe0", ((0.75, "pbe_x"), (1.0, "pbe_c")), hybrid=0.25),
        Functional("hf", (), hybrid=1.0),
        _range_separated("wb97", "wb97_semilocal", b97.WB97, long_range=1.0),
        _range_separated("wb97x", "wb97x_semilocal", b97.WB97X, long_range=0.842294),
        _cam_b3lyp(),
    )
}
FUNCTIONALS = {
    **_SEMILOCAL_AND_HYBRIDS,
    "cam_b3lyp": _SEMILOCAL_AND_HYBRIDS["camb3lyp"],  # PySCF's other spelling
    **{f"{name}-d3bj": _with_d3bj(_SEMILOCAL_AND_HYBRIDS[name])
       for name in ("b3lyp", "b3lyp5", "pbe", "pbe0", "hf")},
    # PySCF's wb97x-d3bj: wB97X-V's semi-local part without VV10, D3(BJ) fitted for it
    "wb97x-d3bj": dataclasses.replace(
        _range_separated("wb97x-d3bj", "wb97x_v_semilocal", b97.WB97X_V, long_range=0.833), d3bj="wb97x"),
}


def functional(name: str | Functional) -> Functional:
    """The functional of a name (case-insensitive), e.g. functional("b3lyp").hybrid == 0.2."""
    if isinstance(name, Functional):
        return name
    try:
        return FUNCTIONALS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown functional {name!r}; known: {sorted(FUNCTIONALS)}") from None


def _component_energy(component: Component, rho, sigma):
    """Energy density of one component with the low-density mask (see module docstring)."""
    float32 = rho.dtype == jnp.float32
    threshold = max(component.threshold, RHO_MIN_FLOAT32) if float32 else component.threshold
    active = rho > threshold
    safe_rho = jnp.where(active, rho, 1.0)
    if not component.is_gga:
        return jnp.where(active, component.energy(safe_rho), 0.0)
    sigma = jnp.where(sigma < 0.0, 0.0, sigma)  # not maximum: its gradient at sigma = 0 is 1/2
    if float32:
        rho_13 = jnp.cbrt(safe_rho)
        sigma = jnp.minimum(sigma, X2_MAX_FLOAT32 * (safe_rho * rho_13) ** 2)
    safe_sigma = jnp.where(active, sigma, 0.0)
    return jnp.where(active, component.energy(safe_rho, safe_sigma), 0.0)


def energy_density(xc: str | Functional, rho, sigma=None):
    """Semi-local XC energy per volume, rho * eps_xc (Hartree/Bohr^3), shape of rho.

    rho: (npts,) density; sigma: (npts,) |grad rho|^2, needed for GGAs. Differentiable.
    """
    f = functional(xc)
    if f.is_gga and sigma is None:
        raise ValueError(f"{f.name} is a GGA: sigma is required")
    e = jnp.zeros_like(rho)
    for weight, component in f.terms:
        e = e + weight * _component_energy(component, rho, sigma)
    return e


def energy_and_potential(xc: str | Functional, rho, sigma=None):
    """(e, vrho, vsigma): energy per volume and its derivatives d e/d rho, d e/d sigma.

    vsigma is None for functionals without gradient dependence. Shapes: (npts,) each.
    """
    f = functional(xc)
    if not f.is_gga:
        e, vjp = jax.vjp(lambda r: energy_density(f, r), rho)
        (vrho,) = vjp(jnp.ones_like(e))
        return e, vrho, None
    e, vjp = jax.vjp(lambda r, s: energy_density(f, r, s), rho, sigma)
    vrho, vsigma = vjp(jnp.ones_like(e))
    return e, vrho, vsigma


@executables.jit(static_argnums=0)
def _eval_xc(f: Functional, rho, sigma):
    e, vrho, vsigma = energy_and_potential(f, rho, sigma)
    positive = rho > 0
    exc = jnp.where(positive, e / jnp.where(positive, rho, 1.0), 0.0)
    return exc, vrho, vsigma


def eval_xc(xc: str | Functional, rho, sigma=None, *, precision: str = "float64"):
    """Evaluate a functional pointwise, as `pyscf.dft.libxc.eval_xc(name, rho, spin=0, deriv=1)`.

    rho, sigma: (npts,) density and |grad rho|^2 (sigma ignored by LDAs, required by GGAs).
    Returns (exc, vrho, vsigma): energy per particle (Hartree), d(rho exc)/d rho and
    d(rho exc)/d sigma, each (npts,); vsigma is None for LDAs.
    """
    f = functional(xc)
    dt = precision_dtype(precision)
    rho = jnp.asarray(rho, dt)
    sigma = jnp.asarray(sigma, dt) if f.is_gga else None
    return _eval_xc(f, rho, sigma)
