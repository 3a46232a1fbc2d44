"""The named presets: what each one sets, the forces and provenance the dataset presets carry,
and (slow) that the `qm9` preset reproduces QM9's own labels and the `ani1x` preset PySCF."""

from __future__ import annotations

import pytest

from dftgen import run_dft
from dftgen.cli import _build_parser
from dftgen.pipeline import spec as spec_mod
from dftgen.pipeline.runner import _attrs
from dftgen.presets import PRESETS, Settings, default_forces, level_of_theory, resolve

DATASET_PRESETS = ("qm9", "ani1x", "wb97x-d3bj-def2-svp")


def test_dataset_presets_compute_forces_and_say_what_they_reproduce():
    for name in DATASET_PRESETS:
        assert PRESETS[name].forces and default_forces(name)
        assert PRESETS[name].settings.precision == "float64"
        assert PRESETS[name].settings.mode == "converge"
    assert "QM9" in PRESETS["qm9"].provenance and "ANI-1x" in PRESETS["ani1x"].provenance
    assert not default_forces("qm1b") and not default_forces(Settings(xc="wb97x"))
    assert all(p.provenance for p in PRESETS.values())


def test_dataset_presets_use_the_datasets_levels_of_theory():
    assert level_of_theory(PRESETS["qm9"].settings) == (
        "b3lyp/6-31g(2df,p) (6d7f shells, grid level 3, exact ERIs or density fitting)")
    ani1x = PRESETS["ani1x"].settings
    assert (ani1x.xc, ani1x.basis, ani1x.shells) == ("wb97x", "6-31g*", "6d7f")
    modern = PRESETS["wb97x-d3bj-def2-svp"].settings
    assert (modern.xc, modern.basis, modern.shells, modern.eri) == (
        "wb97x-d3bj", "def2-svp", "spherical", "df")


def test_run_dft_takes_the_presets_forces_unless_told(water):
    cheap = dict(basis="sto-3g", shells="spherical", eri="exact", grid_level=0)
    assert run_dft(water, "qm9", **cheap).forces_ha_bohr.shape == (3, 3)
    assert run_dft(water, "qm9", forces=False, **cheap).forces_ha_bohr is None
    assert run_dft(water, resolve("qm9", **cheap)).forces_ha_bohr is None  # a Settings object


def test_pipeline_specs_take_the_presets_forces_and_record_the_level_of_theory():
    qm9 = spec_mod.from_dict({"dft": {"preset": "qm9"}})
    assert qm9.dft.with_forces and qm9.data_dict()["dft"]["forces"] is True
    assert not spec_mod.from_dict({"dft": {"preset": "qm9", "forces": False}}).dft.with_forces
    assert not spec_mod.from_dict({"dft": {"preset": "qm1b"}}).dft.with_forces
    attrs = _attrs(qm9)
    assert attrs["level_of_theory"] == level_of_theory(PRESETS["qm9"].settings)
    assert attrs["preset"] == "qm9" and attrs["preset_provenance"] == PRESETS["qm9"].provenance
    changed = _attrs(spec_mod.from_dict({"dft": {"preset": "qm9", "basis": "6-31g*",
                                                 "grid_level": 3}}))
    assert changed["preset_provenance"].endswith("; changed here: basis=6-31g*")


def test_cli_forces_flag_defaults_to_the_preset():
    parser = _build_parser()
    base = ["run", "--smiles", "O", "--preset", "qm9"]
    assert parser.parse_args(base).forces is None
    assert parser.parse_args(base + ["--no-forces"]).forces is False
    assert parser.parse_args(base + ["--forces"]).forces is True


@pytest.mark.slow
def test_qm9_preset_is_closer_to_qm9_labels_than_spherical_shells():
    """Water and HCN at QM9's geometries: Gaussian's 6d7f shells bring the energy closer to
    QM9's U0 - ZPVE than PySCF's spherical ones (water 3.4e-3 against 4.9e-3 Ha, HCN 1.5e-3
    against 2.1e-3), within the measured spread of benchmarks/results/qm9-labels.md:
    |dE| <= 4e-3 Ha, |dHOMO| <= 1.5e-3 Ha, |dLUMO| <= 2.5e-3 Ha. The issue's 1e-3 / 2e-4 are
    not met for water (docs/numerics.md says what was ruled out)."""
    from pyscf import dft as pyscf_dft

    from dftgen.pipeline.qm9_labels import qm9_labels

    for label in qm9_labels([3, 5]):
        result = run_dft(label.molecule, "qm9", forces=False)
        spherical = pyscf_dft.RKS(label.molecule.to_pyscf("6-31g(2df,p)"))
        spherical.xc, spherical.grids.level, spherical.verbose = "b3lyp", 3, 0
        spherical.kernel()
        d_energy = result.energy_ha - label.energy_ha
        assert abs(d_energy) < abs(spherical.e_tot - label.energy_ha)
        assert abs(d_energy) <= 4e-3
        assert abs(result.homo_ha - label.homo_ha) <= 1.5e-3
        assert abs(result.lumo_ha - label.lumo_ha) <= 2.5e-3


@pytest.mark.slow
def test_ani1x_preset_equals_pyscf_with_cartesian_d(water):
    """6-31G(d) has no f functions, so Gaussian's 6d7f shells are PySCF's cart=True:
    |dE| <= 1e-7 Ha, HOMO/LUMO 1e-6 Ha, forces 1e-6 Ha/Bohr against PySCF's wB97X gradients."""
    from pyscf_cases import pyscf_reference

    result = run_dft(water, "ani1x", eri="exact")
    mf, energy, homo, lumo = pyscf_reference(water, "6-31g*", "wb97x", grid_level=3, cart=True)
    assert abs(result.energy_ha - energy) <= 1e-7
    assert abs(result.homo_ha - homo) <= 1e-6 and abs(result.lumo_ha - lumo) <= 1e-6
    assert abs(result.forces_ha_bohr + mf.nuc_grad_method().kernel()).max() <= 1e-6
