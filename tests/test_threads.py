"""One process on several cores (`dftgen.threads`): a JAX CPU device a core, a batch's
molecules side by side on them with the bits of one device, executables compiled on one
device run on another, and BLAS on one thread a call while dftgen computes.

The test workers themselves run with one CPU device each (conftest), as pipeline workers do;
what needs several runs in a fresh process."""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import threadpoolctl
from conftest import WATER_XYZ

from dftgen import Molecule, run_dft, run_dft_batch, threads

BATCH = """
import json
import jax
import numpy as np
import dftgen
from dftgen import threads
from dftgen.scf import driver

ran_on = []
iterate_bucket = driver.iterate_bucket


def recording(inputs, *args):
    ran_on.append((str(jax.config.jax_default_device), len(inputs), threads.count()))
    return iterate_bucket(inputs, *args)


driver.iterate_bucket = recording
water = dftgen.Molecule.from_xyz(WATER)
stretched = dftgen.Molecule(water.numbers, water.positions * 1.02)
mols = [water, dftgen.Molecule.from_smiles("C", seed=0), stretched]
out = dftgen.run_dft_batch(mols, "qm1b")
print(json.dumps({"devices": len(jax.devices()), "ran_on": sorted(ran_on),
                  "energies": [r.energy_ha for r in out]}))
"""


def _run(script: str, **env) -> str:
    # what the test process (or a test before) set for its own threads is not inherited
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("JAX_NUM_CPU_DEVICES", "OMP_NUM_THREADS")}
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("env, expected", [({}, None), ({"OMP_NUM_THREADS": "1"}, 1),
                                           ({"JAX_NUM_CPU_DEVICES": "3"}, 3)])
def test_a_cpu_device_a_core_unless_the_user_chose(env, expected):
    """Importing dftgen gives JAX one CPU device per core the process may use; a pipeline
    worker's OMP_NUM_THREADS=1 gives one, and the user's own number wins."""
    got = _run("import dftgen, jax; print(len(jax.devices()), dftgen.threads.count())", **env)
    devices, cores = map(int, got.split())
    assert devices == (cores if expected is None else expected)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason="side by side needs two cores (a device a core)")
def test_a_batch_on_two_devices_equals_each_molecule_run_alone(water):
    """Two waters (one bucket: a share a device) and methane on two CPU devices: every
    molecule's SCF ran alone on one of the two devices with a core's worth of threads, and
    each energy equals, bit for bit, the molecule's own run in this one-device process."""
    got = json.loads(_run(f"WATER = {WATER_XYZ!r}\n" + BATCH, JAX_NUM_CPU_DEVICES="2"))
    assert got["devices"] == 2
    assert {device for device, _, _ in got["ran_on"]} == {"cpu:0", "cpu:1"}
    assert all(size == 1 and cores == 1 for _, size, cores in got["ran_on"])
    alone = [run_dft(m, "qm1b").energy_ha for m in (
        water, Molecule.from_smiles("C", seed=0), Molecule(water.numbers, water.positions * 1.02))]
    assert got["energies"] == alone


def test_an_empty_batch_is_an_empty_list():
    assert run_dft_batch([]) == []


def test_molecules_that_would_not_fit_side_by_side_run_one_at_a_time():
    """With half of the machine's memory below one molecule's arrays (`working_bytes`), the
    batch runs on this thread, one molecule after another, to the same energies."""
    tight = "from dftgen.scf import driver as tight\ntight.physical_memory = lambda: 1 << 16\n"
    got = json.loads(_run(f"WATER = {WATER_XYZ!r}\n" + tight + BATCH, JAX_NUM_CPU_DEVICES="2"))
    assert {device for device, _, _ in got["ran_on"]} == {"None"}
    roomy = json.loads(_run(f"WATER = {WATER_XYZ!r}\n" + BATCH, JAX_NUM_CPU_DEVICES="2"))
    assert np.allclose(got["energies"], roomy["energies"], rtol=0, atol=1e-10)


ACROSS = """
import numpy as np
import jax
from dftgen import compilation_cache, executables
from dftgen.scf.iterations import orthogonaliser

rng = np.random.default_rng(0)
a = rng.normal(size=(5, 5))
s = a @ a.T + 5 * np.eye(5)
first = jax.devices()[-1]
with jax.default_device(first):
    x = orthogonaliser(s)
assert x.devices() == {first}, x.devices()
out = [np.asarray(x)]
executables.clear()
before = compilation_cache.programs()
for device in jax.devices():
    with jax.default_device(device):
        y = orthogonaliser(s)
    assert y.devices() == {device}, (y.devices(), device)
    out.append(np.asarray(y))
got = compilation_cache.programs() - before
assert all(np.array_equal(o, out[0]) for o in out), "bits differ"
print(got.compiled, got.from_cache)
"""


def test_an_executable_compiled_on_one_device_runs_on_every_device(tmp_path):
    """Compiled and stored on the last of two devices, read back (not compiled) for each
    device of a two-device process and of a one-device one, running where it was called,
    with the same bits."""
    cache = str(tmp_path)
    assert _run(ACROSS, JAX_NUM_CPU_DEVICES="2", DFTGEN_JAX_CACHE=cache) == "0 2"
    assert _run(ACROSS, JAX_NUM_CPU_DEVICES="1", DFTGEN_JAX_CACHE=cache) == "0 1"


def test_nested_work_inside_a_device_thread_is_serial():
    """map_list within a thread of map_devices runs on that thread: its core is busy."""
    assert threads.map_devices(lambda n: n * n, range(5)) == [0, 1, 4, 9, 16]
    script = ("import dftgen, jax\nfrom dftgen import threads\n"
              "print(sorted(set(threads.map_devices(lambda n: (threads.count(), "
              "len(set(threads.map_list(lambda m: str(jax.config.jax_default_device), "
              "range(4))))), range(6)))))")
    assert _run(script, JAX_NUM_CPU_DEVICES="2") == "[(1, 1)]"


def test_blas_runs_on_one_thread_inside_and_as_before_after():
    importlib.import_module("scipy.linalg.cython_lapack")  # SciPy's BLAS loaded, as inside
    def blas_threads():
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"]

    before = blas_threads()
    with threads.blas_on_one_thread():
        inside = blas_threads()
    assert len(inside) >= 2 and set(inside) == {1}  # NumPy's and SciPy's
    assert blas_threads() == before
