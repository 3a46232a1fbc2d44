"""Electron repulsion integrals against PySCF's int2e (s8 and s1): 1e-10 max abs in float64,
1e-6 of max |ERI| in float32; screening, gradients, batching and the compile cache."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dftgen import Molecule, integrals
from dftgen.integrals.eri import skipped_fraction
from dftgen.integrals.eri_stepwise import eri_packed_stepwise
from dftgen.integrals.layout import layout_and_arrays, stack
from finite_differences import central_gradient

_REFERENCES = {}


def pyscf_eri(mol, basis, aosym="s8"):
    key = (mol.name, mol.natoms, basis, aosym)
    if key not in _REFERENCES:
        _REFERENCES[key] = mol.to_pyscf(basis).intor("int2e", aosym=aosym)
    return _REFERENCES[key]


CASES = [("water", "sto-3g"), ("methane", "sto-3g"), ("nine_heavy", "sto-3g")]
SLOW = [("water", "6-31g*"), ("water", "def2-svp"), ("water", "6-31g(2df,p)"), ("methane", "6-31g*"), ("benzene", "sto-3g"),
        ("methane", "def2-svp"), ("benzene", "6-31g*")]


@pytest.mark.parametrize("name, basis", CASES + [pytest.param(*c, marks=pytest.mark.slow) for c in SLOW])
def test_packed_float64_equals_pyscf_s8(name, basis, test_molecules):
    mol = test_molecules[name]
    got = np.asarray(integrals.eri(mol, basis))
    ref = pyscf_eri(mol, basis)
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-10


def test_dense_equals_pyscf_s1(water):
    got = np.asarray(integrals.eri(water, "sto-3g", packed=False))
    ref = pyscf_eri(water, "sto-3g", "s1")
    assert got.shape == ref.shape == (7,) * 4
    assert np.max(np.abs(got - ref)) < 1e-10


@pytest.mark.slow  # about 80 s of compilation: 120 class pairs of s, sp, p, d, f kinds
def test_f_shells():
    """6-31g(2df,p) on HF: d and f shells on F, p on H."""
    mol = Molecule.from_smiles("F", seed=0)
    got = np.asarray(integrals.eri(mol, "6-31g(2df,p)"))
    assert np.max(np.abs(got - pyscf_eri(mol, "6-31g(2df,p)"))) < 1e-10


@pytest.mark.parametrize("name, basis", [("nine_heavy", "sto-3g"),
                                         pytest.param("water", "6-31g*", marks=pytest.mark.slow)])
def test_float32_equals_pyscf(name, basis, test_molecules):
    mol = test_molecules[name]
    got = integrals.eri(mol, basis, precision="float32")
    ref = pyscf_eri(mol, basis)
    assert got.dtype == jnp.float32
    assert np.max(np.abs(np.asarray(got, np.float64) - ref)) < 1e-6 * np.max(np.abs(ref))


def test_screening_drops_nothing_above_threshold():
    """Two water molecules 30 Bohr apart: whole tiles fall below a 1e-8 threshold."""
    two = Molecule.from_xyz("6\n\nO 0 0 0.1178\nH 0 0.7555 -0.4712\nH 0 -0.7555 -0.4712\n"
                            "O 16 0 0.1178\nH 16 0.7555 -0.4712\nH 16 -0.7555 -0.4712\n")
    ref = pyscf_eri(two, "sto-3g")
    # the threshold's value is traced: both calls run one program
    unscreened = np.asarray(integrals.eri(two, "sto-3g", threshold=1e-300, chunk_bytes=4096))
    got = np.asarray(integrals.eri(two, "sto-3g", threshold=1e-8, chunk_bytes=4096))
    dropped = (got == 0) & (unscreened != 0)
    assert dropped.sum() > 0  # the screening did skip work
    assert np.max(np.abs(unscreened[dropped])) < 1e-8
    assert np.max(np.abs(got - ref)) < 1e-8


def test_skipped_fraction_reports_the_screened_work(test_molecules):
    """None of the work is skipped unscreened, some at the default threshold, more at a looser
    one (nine heavy atoms in STO-3G: most primitive quartets are far below 1e-10)."""
    mol = test_molecules["nine_heavy"]
    default = skipped_fraction(mol, "sto-3g")
    assert skipped_fraction(mol, "sto-3g", threshold=0) == 0
    assert 0.3 < default < skipped_fraction(mol, "sto-3g", threshold=1e-6) < 1


def test_band_screening_error_stays_below_threshold(test_molecules):
    """Nine heavy atoms at a loose 1e-6: bands of primitive pairs are left out of integrals
    that are kept (they change, but by less than the threshold in all)."""
    mol = test_molecules["nine_heavy"]
    ref = pyscf_eri(mol, "sto-3g")
    got = np.asarray(integrals.eri(mol, "sto-3g", threshold=1e-6))
    error = np.abs(got - ref)
    assert np.sum((error > 1e-12) & (got != 0)) > 1000  # partly screened integrals
    assert np.max(error) < 1e-6


def test_gradient_matches_finite_differences(water):
    weights = jnp.asarray(np.random.default_rng(1).normal(size=406))

    def scalar(positions):
        return jnp.dot(weights, integrals.eri(water.with_positions(positions), "sto-3g"))

    r0 = jnp.asarray(water.positions)
    grad = np.asarray(jax.grad(scalar)(r0))
    np.testing.assert_allclose(grad, central_gradient(scalar, r0), atol=1e-7)


@pytest.fixture(scope="module")
def co_and_n2():
    """One shape bucket in STO-3G: C, N, O share a shell structure, not exponents."""
    co = Molecule.from_xyz("2\n\nC 0 0 0\nO 0 0 1.128\n")
    n2 = Molecule.from_xyz("2\n\nN 0 0 0\nN 0 0 1.098\n")
    return co, n2


def test_every_molecule_size_runs_the_programs_of_the_first(co_and_n2, test_molecules):
    """Concrete positions take `eri_packed_stepwise`, whose programs depend on the kinds of
    shell groups only: after CO, neither N2 nor molecules of other sizes compile anything."""
    co, n2 = co_and_n2
    integrals.eri(co, "sto-3g")
    before = {k: integrals.trace_counts[k] for k in ("eri_tile_chunk", "eri_class_chunk", "eri")}
    for mol in (n2, co.with_positions(co.positions * 1.05), test_molecules["methane"],
                test_molecules["nine_heavy"]):
        got = np.asarray(integrals.eri(mol, "sto-3g"))
        assert np.max(np.abs(got - mol.to_pyscf("sto-3g").intor("int2e", aosym="s8"))) < 1e-10
    assert {k: integrals.trace_counts[k] for k in before} == before


@pytest.mark.parametrize("name, basis", [("methane", "sto-3g"), ("water", "6-31g*")])
def test_stepwise_equals_one_program(name, basis, test_molecules):
    """Unscreened, the shared programs and a molecule's own program give the same integrals
    (to rounding: a tile on the diagonal holds (ij|kl) and (kl|ij), summed in two orders)."""
    layout, arrays = layout_and_arrays(test_molecules[name], basis)
    stepwise = eri_packed_stepwise(layout, arrays, threshold=0.0)
    whole = np.asarray(jax.jit(integrals.eri_packed, static_argnums=0)(layout, arrays))
    assert np.max(np.abs(stepwise - whole)) < 1e-14


def test_vmap_over_a_bucket_equals_one_at_a_time(co_and_n2):
    co, n2 = co_and_n2
    layout, arrays = stack([co, n2], "sto-3g")
    batched = jax.jit(jax.vmap(lambda a: integrals.eri_packed(layout, a, 1e-10)))(arrays)
    one = jax.jit(lambda a: integrals.eri_packed(layout, a, 1e-10))
    for k, got in enumerate(batched):
        np.testing.assert_allclose(got, one(jax.tree.map(lambda a: a[k], arrays)), rtol=0,
                                   atol=1e-14)
    with pytest.raises(ValueError, match="shape buckets"):
        stack([co, Molecule.from_xyz("3\n\nO 0 0 0\nH 0 0 1.8\nH 1.8 0 0\n")], "sto-3g")


def test_float64_after_float32_in_a_fresh_process():
    """x64 is switched on the first time float64 is asked for: ERIs in float32 first (x64
    off), then in float64, in one new interpreter. Index tables cached as int64 numpy arrays
    used to meet int32 copies of themselves there ("lax.add requires arguments to have the
    same dtypes")."""
    import subprocess
    import sys

    code = ("import jax, numpy as np; from dftgen import Molecule, integrals; "
            "w = Molecule.from_smiles('O', seed=0); "
            "assert not jax.config.jax_enable_x64; "
            "integrals.eri(w, 'sto-3g', precision='float32'); "
            "got = np.asarray(integrals.eri(w, 'sto-3g', precision='float64')); "
            "ref = w.to_pyscf('sto-3g').intor('int2e', aosym='s8'); "
            "print(np.max(np.abs(got - ref)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split()[-1]) < 1e-10


def test_hermite_coefficients_outside_their_support_are_zero(water):
    """The elementwise ket contraction reads E[h, f] only where `hermite_support` says it can
    be non-zero: elsewhere it is exactly zero in the pair data of every class of 6-31G*
    water (s, sp, p and d shells), and the support leaves out most entries (46 of an
    (sp, sp) pair's 160)."""
    import importlib

    from dftgen.integrals.layout import Kind, layout_and_arrays

    eri_module = importlib.import_module("dftgen.integrals.eri")
    layout, arrays = layout_and_arrays(water, "6-31g*", "float64")
    for cls in eri_module._class_order(layout):
        data = eri_module._class_data(layout, cls, arrays)
        npair, pp = data.p.shape
        e = np.asarray(data.ket).reshape(npair, pp, -1, data.ket.shape[2])
        inside = np.zeros(e.shape[2:], bool)
        for h, f in eri_module.hermite_support(cls.kind_a, cls.kind_b):
            inside[h, f] = True
        assert np.all(e[:, :, ~inside] == 0.0), cls.kind_a + cls.kind_b
    sp = Kind(ls=(0, 1), nprim=3, cartesian=(False, False))
    assert len(eri_module.hermite_support(sp, sp)) == 46


def test_class_pairs_on_threads_give_the_same_bits(test_molecules, monkeypatch):
    """The class pairs (and their float32 and float64 parts) run on threads where the
    process has cores (`dftgen.threads`): the same integrals, bit for bit, as one thread."""
    from dftgen import threads

    layout, arrays = layout_and_arrays(test_molecules["benzene"], "sto-3g")
    monkeypatch.setattr(threads, "count", lambda: 1)
    serial = eri_packed_stepwise(layout, arrays, 1e-10, float32_below=1e-2)
    monkeypatch.setattr(threads, "count", lambda: 3)
    assert np.array_equal(eri_packed_stepwise(layout, arrays, 1e-10, float32_below=1e-2), serial)


@pytest.mark.parametrize("name", ["benzene", "nine_heavy", "CC(=O)Nc1ccc(O)cc1"])
def test_mixed_precision_within_its_bound(name, test_molecules):
    """Tile pairs bounded below 1e-2 in float32, the rest in float64: every integral within
    1e-8 of the all-float64 ones (float32's 6e-8 relative of at most 1e-2; measured 1.4e-9
    at QM1B sizes), and some of them did change (the float32 part ran); a named molecule or
    a SMILES (paracetamol: 11 heavy atoms, as QM1B's largest)."""
    mol = test_molecules.get(name) or Molecule.from_smiles(name, seed=0)
    layout, arrays = layout_and_arrays(mol, "sto-3g")
    ref = eri_packed_stepwise(layout, arrays, 1e-10)
    got = eri_packed_stepwise(layout, arrays, 1e-10, float32_below=1e-2)
    assert np.max(np.abs(got - ref)) < 1e-8
    assert np.any(got != ref)
    with pytest.raises(ValueError, match="mixed-precision"):
        integrals.eri(mol, "sto-3g", precision="float32", float32_below=1e-2)
