"""The simulated IPU layer: specs, the analytic memory model and its orbital limit, the tile
map, the float32 rule, the compile cache and the BSP cost model's determinism."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dftgen import Molecule, basis as basis_mod, grids, scf
from dftgen.device import COMPILE_CACHE, DeviceError, get
from dftgen.device import cost, memory, rules, specs, tiles
from dftgen.presets import PRESETS

QM1B = PRESETS["qm1b"].settings
BOW = specs.spec("ipu-bow")


def test_specs_reproduce_published_chip_figures():
    gc200 = specs.spec("ipu-gc200")
    assert BOW.sram_bytes == gc200.sram_bytes == 1472 * 624 * 1024 == 940_572_672
    assert BOW.tiles * BOW.threads_per_tile == 8832
    assert BOW.float16_flops == pytest.approx(350e12, rel=0.01)  # Bow datasheet
    assert BOW.float32_flops == pytest.approx(87e12, rel=0.01)
    assert gc200.float32_flops == pytest.approx(62.5e12, rel=0.01)  # M2000 datasheet
    assert gc200.exchange_bytes_per_second == pytest.approx(8e12, rel=0.03)
    assert not BOW.float64 and specs.spec("cpu").float64
    with pytest.raises(ValueError, match="ipu-bow"):
        specs.spec("ipu-mk9")


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_unique_quartets_counts_the_8_fold_symmetric_set(n):
    brute = {tuple(sorted([tuple(sorted(p, reverse=True)), tuple(sorted(q, reverse=True))]))
             for p in itertools.product(range(n), repeat=2)
             for q in itertools.product(range(n), repeat=2)}
    assert memory.unique_quartets(n) == len(brute)


def test_orbital_limit_of_b3lyp_sto3g_grid0_is_69():
    """PySCF-IPU: nao <= 70; QM1B's largest molecules (11 heavy atoms, 14 H) have 69."""
    assert memory.orbital_limit(BOW, QM1B) == 69
    at69 = memory.footprint(memory.qm1b_workload(69, QM1B), BOW)
    at70 = memory.footprint(memory.qm1b_workload(70, QM1B), BOW)
    assert at69.fits and not at70.fits
    assert at69.peak_phase == at70.peak_phase == "eri"
    assert at70.largest(1)[0].name == "primitive_eri"
    assert at70.largest(1)[0].bytes == memory.unique_quartets(3 * 70) * 4
    assert "primitive_eri" in at70.reason() and "940.6 MB" in at70.reason()
    assert at69.reason() == ""
    # the SCF phase alone would allow far larger molecules: the ERI phase sets the limit
    assert at69.phase_bytes("scf") < 0.2 * BOW.sram_bytes


def test_workload_of_a_real_molecule_matches_the_qm1b_family(nine_heavy):
    bas = basis_mod.build(nine_heavy, "sto-3g")
    grid = grids.build(nine_heavy, 0)
    w = memory.workload(bas, QM1B, len(grid.weights))
    assert w.primitives == 3 * bas.nao  # STO-3G: three primitives per AO
    assert w.ao_components == 4  # B3LYP is a GGA: values and gradients
    assert memory.qm1b_workload(bas.nao, QM1B).primitives == w.primitives
    # the model's grid is the free atoms' grids; the molecular grid keeps them (padded to 8)
    atoms = sum(memory.atom_sizes(int(z), "sto-3g", 0)[2] for z in nine_heavy.numbers)
    assert atoms <= w.npts < atoms + 8


def test_tile_units_add_up_to_the_analytic_eri_phase(nine_heavy):
    bas = basis_mod.build(nine_heavy, "sto-3g")
    fp = memory.footprint(memory.workload(bas, QM1B, 10_000), BOW)
    total, contracted = tiles.unit_bytes(bas)
    assert total.sum() == fp.phase_bytes("eri")
    assert contracted.sum() == memory.unique_quartets(bas.nao) * 4
    functions, primitives = tiles.shell_groups(bas)
    assert functions.sum() == bas.nao and (primitives == 3 * functions).all()
    assert len(functions) < bas.nshell  # 2s and 2p merged into sp groups


def test_balancer_is_within_one_unit_of_the_mean_and_deterministic(nine_heavy):
    bas = basis_mod.build(nine_heavy, "sto-3g")
    fp = memory.footprint(memory.workload(bas, QM1B, 10_000), BOW)
    tm = tiles.tile_map(bas, fp, BOW)
    total, _ = tiles.unit_bytes(bas)
    assert tm.eri_bytes.sum() == total.sum()
    assert tm.eri_bytes.max() <= tm.eri_bytes.mean() + total.max()
    assert tm.tiles_used == BOW.tiles and tm.fits
    summary = tm.summary()
    assert sum(summary["histogram_counts"]) == BOW.tiles
    assert summary == tiles.tile_map(bas, fp, BOW).summary()
    # LPT on few tiles: every tile gets work and the spread stays below the largest unit
    owner = tiles.balance(np.array([7, 5, 4, 3, 3, 2]), 3)
    assert sorted(np.bincount(owner, weights=[7, 5, 4, 3, 3, 2])) == [7, 8, 9]


def test_oversize_molecule_is_refused_with_its_buffers_and_limit():
    mol = Molecule.from_smiles("CCCCCCCCCCCC", seed=0)  # C12H26: 86 orbitals
    bas = basis_mod.build(mol, "sto-3g")
    device = get("ipu-bow")
    with pytest.raises(DeviceError) as err:
        device.check_fits(scf.setup(mol, QM1B), QM1B)
    message = str(err.value)
    assert "nao=86" in message and "primitive_eri" in message and "940.6 MB" in message
    assessment = device.assess_memory(bas, QM1B, 20_000)
    assert not assessment.fits and assessment.tile_map.summary()["tiles_over_budget"] > 0


def test_float64_arrays_are_named():
    from dftgen.precision import enable_x64

    enable_x64()

    def program(x, params):
        y = jax.lax.fori_loop(0, 2, lambda i, a: (a * np.float64(0.5)).astype(a.dtype), x)
        return y + params["shift"]

    x32 = jnp.ones(3, jnp.float32)
    clean = {"shift": jnp.float32(1.0)}
    found = rules.float64_arrays(program, x32, clean, names=("x", "params"))
    assert found and all("float64[3]" in f for f in found)  # the promoted loop body
    assert any(f.startswith("mul ->") and "test_device.py" in f for f in found)
    wide = {"shift": jnp.ones((), jnp.float64)}
    assert "params['shift']: float64[]" in rules.float64_arrays(
        lambda x, p: x + p["shift"].astype(jnp.float32), x32, wide, names=("x", "params"))
    assert rules.float64_arrays(lambda x: x * 2.0, x32) == []
    with pytest.raises(DeviceError, match=r"2 float64 array\(s\):\n  convert_element_type -> float64\[3\]"):
        rules.require_float32(program, x32, clean, names=("x", "params"))


def test_compile_cache_compiles_each_shape_once():
    cache = rules.CompileCache()
    f = jax.jit(lambda a, scale: a * scale, static_argnames="scale")
    a3, b3, a4 = jnp.ones(3), jnp.zeros(3), jnp.ones(4)
    first = cache.compile("f", f, a3, scale=2.0)
    assert cache.compile("f", f, b3, scale=2.0) is first
    cache.compile("f", f, a4, scale=2.0)
    cache.compile("f", f, a3, scale=3.0)
    stats = cache.stats()
    assert (stats["compilations"], stats["hits"], stats["programs"]) == (3, 1, 3)
    assert stats["compile_seconds"] > 0
    np.testing.assert_array_equal(first(a3), 2 * np.ones(3))


def test_cost_estimate_is_deterministic_and_calibration_inverts_it():
    costs = dict(nao=58, eri=cost.ProgramCost(3e10, 1e9), fock=cost.ProgramCost(2e8, 1e8),
                 iterate=cost.ProgramCost(5e8, 2e8), iterations=20, diis_space=9)
    first = cost.estimate(BOW, **costs)
    assert first == cost.estimate(BOW, **costs)
    assert first.ms_per_conformer > 0
    eff = cost.calibrate(135.0, BOW, **costs)
    assert cost.estimate(BOW, **costs, efficiency=eff).ms_per_conformer == pytest.approx(135.0)
    names = [p.name for p in first.phases]
    assert names[:2] == ["eri", "initial_fock"] and "jacobi_eigh" in names
    bigger = dataclasses.replace(costs["eri"], flops=2 * costs["eri"].flops)
    assert cost.estimate(BOW, **{**costs, "eri": bigger}).ms_per_conformer > first.ms_per_conformer
    with pytest.raises(ValueError):
        cost.estimate(specs.spec("cpu"), **costs)


def test_counted_cost_multiplies_loop_bodies_by_their_trip_counts():
    """XLA's own analysis counts a lax.map body once; `counted` counts every trip, nested
    loops included (a 10-trip map of 3-trip maps of a 16^3 matmul: 30 matmuls)."""
    a = jnp.ones((10, 3, 16, 16), jnp.float32)
    matmul = 2 * 16**3

    def program(x):
        return jax.lax.map(lambda outer: jax.lax.map(lambda m: m @ m, outer), x)

    once = cost.ProgramCost.of(jax.jit(program).lower(a))
    counted = cost.ProgramCost.counted(program, a)
    assert once.flops == pytest.approx(matmul, rel=0.01)
    assert counted.flops == pytest.approx(30 * matmul, rel=0.01)
    assert counted.bytes_accessed > once.bytes_accessed


def test_get_validates_and_lists_jax_devices():
    device = get("ipu-gc200")
    assert device.is_ipu and device.n == 1 and device.jax_devices[0].platform == "cpu"
    assert not get("cpu").is_ipu
    with pytest.raises(DeviceError, match="configure_host_devices"):
        get("ipu-bow", n=4096).jax_devices
    with pytest.raises(ValueError):
        get("ipu-bow", n=0)
    assert COMPILE_CACHE.stats()["programs"] >= 0


# -- admission with the real kernel --------------------------------------------------------


def test_run_dft_on_an_emulated_ipu_is_admitted_and_equals_the_plain_run(water):
    """Admission of a float32 molecule gives XLA's memory analysis and a deterministic
    estimate, and running on the emulated IPU changes no number beyond float32 effects: the
    IPU computes its ERIs in float32, the plain qm1b run rounds float64 ERIs once, which moves
    the energy by a few 1e-6 Ha (well inside the qm1b contract of 1e-4 Ha)."""
    from dftgen import run_dft

    plain = run_dft(water, preset="qm1b")
    on_ipu = run_dft(water, preset="qm1b", device="ipu-bow")
    assert abs(on_ipu.energy_ha - plain.energy_ha) < 2e-5
    np.testing.assert_allclose(on_ipu.mo_energy, plain.mo_energy, rtol=0, atol=2e-5)
    assert plain.device is None and on_ipu.to_dict()["device"] == on_ipu.device
    report = on_ipu.device
    assert report["device"] == "ipu-bow" and report["fits"] and report["nao"] == 7
    assert report["limit_bytes"] == BOW.sram_bytes and report["tiles_used"] > 0
    xla = report["xla_memory"]
    assert xla["total_bytes"] > xla["argument_bytes"] > 0
    assert report["estimated_ms_per_conformer"] > 0
    assert {p["name"] for p in report["phases"]} >= {"eri", "fock", "jacobi_eigh"}

    problem = scf.assemble(scf.setup(water, QM1B), QM1B)
    admission = get("ipu-bow").admit(problem, QM1B)
    assert admission.estimate.ms_per_conformer == report["estimated_ms_per_conformer"]


def test_run_dft_in_float64_on_an_ipu_is_refused_naming_the_arrays(water):
    from dftgen import run_dft

    with pytest.raises(DeviceError, match="float32 only") as err:
        run_dft(water, preset="qm1b", device="ipu-bow", precision="float64")
    assert "inputs.h: float64[7, 7]" in str(err.value)
    assert "inputs.eri" in str(err.value)


def test_run_dft_refuses_a_molecule_too_large_for_the_device_with_its_reason(water):
    """One Bow tile as a whole device (624 KiB): on a level-3 grid water's AO values and
    gradients (4 x npts x nao floats) do not fit; on the level-0 grid they do."""
    from dftgen import run_dft
    from dftgen.device import Device

    one_tile = Device(dataclasses.replace(BOW, name="ipu-bow-1-tile", tiles=1))
    with pytest.raises(DeviceError) as err:
        run_dft(water, preset="qm1b", grid_level=3, device=one_tile)
    message = str(err.value)
    assert "nao=7" in message and "does not fit one ipu-bow-1-tile" in message
    assert "in its scf phase" in message and "ao_values" in message
    assert "0.6 MB of SRAM" in message


@pytest.mark.slow
def test_run_dft_refuses_an_oversize_molecule_on_a_bow():
    from dftgen import run_dft

    mol = Molecule.from_smiles("CCCCCCCCCCCC", seed=0)  # C12H26: 86 orbitals
    with pytest.raises(DeviceError, match=r"nao=86.*more than the 940\.6 MB of SRAM.*"
                                          r"largest buffers: primitive_eri"):
        run_dft(mol, preset="qm1b", device="ipu-bow")


@pytest.mark.slow
def test_calibration_molecule_lands_within_2x_of_qm1b_published_time():
    """The 10-heavy-atom molecule EFFICIENCY was calibrated on (benchmarks/ipu_model.py):
    QM1B's < 40,000 IPU-hours for 1.07e9 conformers is 134.6 ms per conformer."""
    mol = Molecule.from_smiles("CC1=NOC(C)=C1C(N)=O", seed=0)
    problem = scf.assemble(scf.setup(mol, QM1B), QM1B)
    admission = get("ipu-bow").admit(problem, QM1B)
    published = 40_000 * 3600e3 / 1.07e9
    assert admission.nao == 58
    assert published / 2 < admission.estimate.ms_per_conformer < 2 * published
