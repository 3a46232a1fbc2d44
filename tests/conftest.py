"""Shared test molecules: the Foundation issue's water, methane, benzene and a 9-heavy-atom
molecule, with fixed geometries so results are reproducible."""

import os

import pytest

# one XLA thread and one CPU device per pytest worker: `make test` runs two workers on two
# cores (a test of several devices runs a process of its own)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_NUM_CPU_DEVICES", "1")

from dftgen import Molecule  # noqa: E402

WATER_XYZ = """3
water
O   0.000000   0.000000   0.117790
H   0.000000   0.755453  -0.471161
H   0.000000  -0.755453  -0.471161
"""

NINE_HEAVY_SMILES = "Oc1ccccc1CO"  # 2-hydroxybenzyl alcohol: 9 heavy atoms, 8 H


@pytest.fixture(scope="session")
def water():
    return Molecule.from_xyz(WATER_XYZ)


@pytest.fixture(scope="session")
def methane():
    return Molecule.from_smiles("C", seed=0)


@pytest.fixture(scope="session")
def benzene():
    return Molecule.from_smiles("c1ccccc1", seed=0)


@pytest.fixture(scope="session")
def nine_heavy():
    return Molecule.from_smiles(NINE_HEAVY_SMILES, seed=0)


@pytest.fixture(scope="session")
def test_molecules(water, methane, benzene, nine_heavy):
    return {"water": water, "methane": methane, "benzene": benzene, "nine_heavy": nine_heavy}
