"""DFT-loss trainer: eigh guard, gradient against finite differences, equivariance,
training lowers E[D] - E* by a large factor and never below the variational bound.

Water conformers at B3LYP5/STO-3G/grid level 0 in float64 (one shape bucket, so one
compilation of each program); the full route and the comparison are in test_dftloss_compare.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dftgen import Molecule
from dftgen.train.dftloss import differentiable_scf as dscf
from dftgen.train.dftloss import evaluate as ev
from dftgen.train.dftloss.spec import from_dict
from dftgen.train.dftloss.features import featurise
from dftgen.train.dftloss.safe_eigh import safe_eigh
from dftgen.train.dftloss.train import fit, new_model, route_loss
from dftgen.precision import dtype as precision_dtype

F64 = precision_dtype("float64")  # switches JAX's x64 on

SPEC = {
    "dft": {"preset": "qm1b", "precision": "float64"},
    "data": {"train": ["O"], "test": ["F"], "conformers": 3},
    "model": {"width": 16, "n_rbf": 8, "scf_steps": 2},
    "training": {"steps": 60, "batch_size": 3, "lr": 3e-3, "eval_every": 20},
}
BOUND_NOISE_HA = 1e-8  # E[D] may undercut E* only by SCF convergence and rounding noise


@pytest.fixture(scope="module")
def spec():
    return from_dict(SPEC)


@pytest.fixture(scope="module")
def waters(spec):
    """Three water conformers with their features and converged references."""
    mols = [dataclasses.replace(m, name=f"water #{k}")
            for k, m in enumerate(Molecule.conformers("O", 3, seed=0))]
    samples = [featurise(m, spec.settings) for m in mols]
    return samples, [ev.reference(s, spec.settings) for s in samples]


def _random_symmetric(n, seed):
    a = np.random.default_rng(seed).normal(size=(n, n))
    return jnp.asarray(a + a.T, F64)


def test_safe_eigh_matches_eigh_derivative_for_separated_levels():
    a = jnp.asarray(np.diag([-1.0, 0.0, 0.5, 2.0]), F64) + 0.1 * _random_symmetric(4, 0)
    da = _random_symmetric(4, 1)

    def projector(eigh):
        return lambda m: (lambda v: v[:, :2] @ v[:, :2].T)(eigh(m)[1])

    ref_e = jax.jvp(lambda m: jnp.linalg.eigh(m)[0], (a,), (da,))[1]
    got_e = jax.jvp(lambda m: safe_eigh(m)[0], (a,), (da,))[1]
    ref_p = jax.jvp(projector(jnp.linalg.eigh), (a,), (da,))[1]
    got_p = jax.jvp(projector(safe_eigh), (a,), (da,))[1]
    np.testing.assert_allclose(got_e, ref_e, atol=1e-12)
    np.testing.assert_allclose(got_p, ref_p, atol=1e-8)  # broadening 1e-10 / gaps ~0.5^2


def test_safe_eigh_derivative_is_finite_and_right_at_a_degenerate_occupied_pair():
    """Two degenerate occupied levels: eigh's eigenvector derivative blows up (1e15 here)
    and its occupied-projector derivative comes out wrong (or NaN, where the rounded levels
    coincide); the guarded one is the finite-difference derivative of the projector."""
    rot = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))[0]
    a = jnp.asarray(rot @ np.diag([-1.0, -1.0, 1.0]) @ rot.T, F64)
    da = _random_symmetric(3, 3)

    def projector(eigh, m):
        v = eigh(m)[1]
        return v[:, :2] @ v[:, :2].T

    plain = jax.jvp(lambda m: projector(jnp.linalg.eigh, m), (a,), (da,))[1]
    guarded = jax.jvp(lambda m: projector(safe_eigh, m), (a,), (da,))[1]
    h = 1e-6
    fd = (projector(jnp.linalg.eigh, a + h * da) - projector(jnp.linalg.eigh, a - h * da)) / (2 * h)
    assert not np.allclose(plain, fd, atol=1e-3)
    np.testing.assert_allclose(guarded, fd, atol=1e-7)


def test_loss_gradient_matches_central_finite_differences(spec, waters):
    """d E[D(params)] / d params along a random direction: autodiff through the network, eigh,
    J/K and XC against central differences, float64, water. Tolerance 1e-6 relative."""
    sample = waters[0][0]
    model = new_model(spec)
    key = jax.random.PRNGKey(7)
    params, static = eqx.partition(model, eqx.is_array)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, 2 * len(leaves))
    # wake the zero-initialised last layer so every parameter matters, then pick a direction
    leaves = [p + 0.05 * jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys[::2])]
    direction = [jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys[1::2])]
    norm = np.sqrt(sum(float(jnp.sum(d * d)) for d in direction))
    direction = [d / norm for d in direction]
    loss = route_loss(spec)

    # arrays enter as arguments, not closed-over constants (XLA would fold them: slow)
    def along(t, leaves, direction, features):
        moved = jax.tree.unflatten(treedef, [p + t * d for p, d in zip(leaves, direction)])
        return loss(eqx.combine(moved, static), features, None)

    value_and_grad = jax.jit(jax.value_and_grad(along))
    _, analytic = value_and_grad(jnp.asarray(0.0, F64), leaves, direction, sample.features)
    # five-point stencil: truncation O(h^4) and rounding ~eps |E| / h, both ~1e-11 here (the
    # two-point one at h = 1e-4 carries ~2e-10 of rounding, near the tolerance)
    h = 1e-3
    f = {t: float(value_and_grad(jnp.asarray(t * h, F64), leaves, direction, sample.features)[0])
         for t in (-2, -1, 1, 2)}
    numeric = (f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * h)
    assert abs(float(analytic)) > 1e-4  # the direction is not a trivial one
    assert abs(float(analytic - numeric)) <= 1e-6 * abs(float(numeric))


def test_correction_is_rotation_equivariant(spec, waters):
    """Rotating the molecule (positions by Q; AO matrices by U = diag(1, 1, Q, 1, 1) for
    water's O 1s, 2s, 2p, H 1s, H 1s) rotates the predicted correction: dH' = U dH U^T."""
    sample = waters[0][0]
    f = sample.features
    leaves, treedef = jax.tree.flatten(new_model(spec))
    keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
    model = jax.tree.unflatten(treedef, [
        p + 0.05 * jax.random.normal(k, p.shape, p.dtype) if eqx.is_inexact_array(p) else p
        for p, k in zip(leaves, keys)])
    q = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))[0]
    u = np.eye(7)
    u[2:5, 2:5] = q
    u = jnp.asarray(u)
    rotated = f._replace(positions=f.positions @ q.T, fock0=u @ f.fock0 @ u.T,
                         covariants=jnp.einsum("ij,kjl,ml->kim", u, f.covariants, u))
    dh, dh_rot = model(f), model(rotated)
    assert float(jnp.max(jnp.abs(dh))) > 1e-3
    np.testing.assert_allclose(dh_rot, u @ dh @ u.T, atol=1e-11)
    np.testing.assert_allclose(dh, dh.T, atol=1e-14)


def test_dft_loss_training_lowers_the_energy_gap_and_respects_the_bound(spec, waters):
    """Training on the energy alone (no labels) lowers the mean E[D] - E* over the water
    conformers by >= 30x from the untrained network with the same SCF steps (measured: about
    1000x in 60 steps) and by >= 1000x from the initial guess (the first SCF iterate from
    minao); no prediction ever falls below E* by more than 1e-8 Ha."""
    samples, refs = waters
    settings = spec.settings
    m = spec.model

    def on_eval(model):
        return {"errors": [float(ev.predict(model, s.features, settings.xc, m.scf_steps,
                                            m.broadening)[0].energy) - r.energy
                           for s, r in zip(samples, refs)]}

    model, log = fit(new_model(spec), samples, route_loss(spec), spec.training, on_eval=on_eval)
    guess = np.mean([ev.guess_energy(s.features, settings) - r.energy for s, r in zip(samples, refs)])
    untrained, trained = np.mean(log[0]["errors"]), np.mean(log[-1]["errors"])
    assert all(r.converged for r in refs)
    assert min(min(e["errors"]) for e in log) > -BOUND_NOISE_HA
    assert untrained / trained >= 30, (untrained, trained)
    assert guess / trained >= 1000, (guess, trained)


def test_refine_densities_are_valid_closed_shell_densities(waters):
    """Every density out of the SCF steps is idempotent in the S metric with trace N, so
    its energy is an upper bound on the converged one."""
    f = waters[0][0].features
    pred = dscf.refine(f.fock0, f.scf, "b3lyp5", steps=2)
    dsd = pred.dm @ f.scf.s @ pred.dm
    np.testing.assert_allclose(dsd, 2.0 * pred.dm, atol=1e-10)
    assert abs(float(jnp.trace(pred.dm @ f.scf.s)) - 10.0) < 1e-10


def test_residual_pins_the_scale_the_density_cannot_see(waters):
    """2 F* + 3 S has the converged Fock matrix F*'s density, so no loss of the density can
    tell them apart; the self-consistency residual is ~0 for F* and large for the other."""
    (sample, *_), (ref, *_) = waters
    f = sample.features
    fock = dscf.fock_and_energy(jnp.asarray(ref.dm), f.scf, "b3lyp5")[0]
    exact = dscf.refine(fock, f.scf, "b3lyp5", steps=0)
    scaled = dscf.refine(2.0 * fock + 3.0 * f.scf.s, f.scf, "b3lyp5", steps=0)
    np.testing.assert_allclose(scaled.dm, exact.dm, atol=1e-10)
    assert abs(float(exact.energy) - ref.energy) < 1e-9
    assert float(exact.residual) < 1e-10
    assert float(scaled.residual) > 100.0


def test_dataset_molecules_keep_the_split_and_carry_labels_in_hartree(tmp_path):
    """Molecules read from a generated dataset (synthetic labels here): train and test hold
    different molecules, and stored eV labels arrive in Hartree for the label twin."""
    from dftgen.data import open_dataset
    from dftgen.elements import HARTREE_EV
    from dftgen.train.dftloss import molecules
    from dftgen.train.dftloss.spec import DataSection
    from dftgen.pipeline.synthetic import write_run

    run = write_run(tmp_path / "run", molecules=12, conformers=2, heavy_atoms=(1, 3))
    entries = molecules.load(DataSection(dataset=str(run)))
    smiles = {k: {e.mol.name.split(" #")[0] for e in v} for k, v in entries.items()}
    assert entries["train"] and entries["test"] and not smiles["train"] & smiles["test"]
    first = open_dataset(run).split("train")[0]
    entry = entries["train"][0]
    np.testing.assert_array_equal(entry.mol.numbers, first["z"])
    np.testing.assert_allclose(entry.mol.positions, first["positions_bohr"])
    assert entry.labels["energy"] == pytest.approx(first["energy_ev"] / HARTREE_EV, rel=1e-15)
    assert entry.labels["lumo"] == pytest.approx(first["lumo_ev"] / HARTREE_EV, rel=1e-15)
    assert len(molecules.load(DataSection(dataset=str(run), limit=3))["train"]) == 3


def test_smiles_molecules_hold_out_conformers_of_the_training_molecules():
    from dftgen.train.dftloss import molecules
    from dftgen.train.dftloss.spec import DataSection

    entries = molecules.load(DataSection(train=("CCO", "CN"), test=("CO",), conformers=3, held_out_conformers=2))
    names = {k: [e.mol.name for e in v] for k, v in entries.items()}
    assert names["train"] == ["CCO #0", "CCO #1", "CCO #2", "CN #0", "CN #1", "CN #2"]
    assert names["held_out"] == ["CCO #3", "CCO #4", "CN #3", "CN #4"]
    assert names["test"] == ["CO #0", "CO #1", "CO #2"]
    train, held = entries["train"][0].mol.positions, entries["held_out"][0].mol.positions
    assert np.abs(train - held).max() > 0.01  # another conformer, not a copy


@pytest.mark.parametrize("name", ["dftloss", "dftloss-qm9"])
def test_shipped_dftloss_specs_load(name):
    from dftgen.train import MODELS_DIR
    from dftgen.train.dftloss.spec import load

    spec = load(MODELS_DIR / f"{name}.toml")
    assert spec.compare.budget_minutes == tuple(sorted(spec.compare.budget_minutes))
    assert len(spec.compare.seeds) == 3 and not set(spec.data.train) & set(spec.data.test)


@pytest.mark.slow
def test_dft_loss_training_on_several_molecules_generalises_to_held_out_ones():
    """Water, methane, ammonia and ethanol conformers (no labels): the mean E[D] - E* falls
    >= 30x on the training conformers and >= 10x on held-out molecules of the same elements
    (methylamine, methanol; measured 71x and 19x) from the untrained network with the same
    SCF steps; never below the bound. (Hydrogen fluoride, once held out here, has an element
    the network never saw: it improved 2.2x, 6.4e-4 -> 3.0e-4 Ha.)"""
    spec = from_dict({**SPEC, "data": {"train": ["O", "C", "N", "CCO"], "test": ["CN", "CO"],
                                       "conformers": 2},
                      "training": {**SPEC["training"], "steps": 300, "batch_size": 2}})
    settings, m = spec.settings, spec.model
    splits = {}
    for split, smiles in (("train", spec.data.train), ("test", spec.data.test)):
        samples = [featurise(mol, settings) for s in smiles for mol in Molecule.conformers(s, 2)]
        splits[split] = (samples, [ev.reference(s, settings) for s in samples])

    def errors(model, split):
        samples, refs = splits[split]
        return [float(ev.predict(model, s.features, settings.xc, m.scf_steps,
                                 m.broadening)[0].energy) - r.energy for s, r in zip(samples, refs)]

    model = new_model(spec)
    before = {k: errors(model, k) for k in splits}
    model, _ = fit(model, splits["train"][0], route_loss(spec), spec.training)
    after = {k: errors(model, k) for k in splits}
    assert min(min(after["train"]), min(after["test"])) > -BOUND_NOISE_HA
    assert np.mean(before["train"]) / np.mean(after["train"]) >= 30
    assert np.mean(before["test"]) / np.mean(after["test"]) >= 10
