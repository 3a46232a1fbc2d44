"""Pod emulation: n emulated IPUs as JAX host devices, molecules sharded across them.

JAX fixes its device count when it starts, so each check runs in a fresh interpreter."""

import subprocess
import sys
import textwrap

from conftest import WATER_XYZ

POD_SCRIPT = """
import dftgen.device
dftgen.device.configure_host_devices(2)
import jax, numpy as np
from dftgen import Molecule, run_dft, run_dft_batch

water = Molecule.from_xyz({xyz!r})
# three conformers on two emulated IPUs: one device gets a padding copy
conformers = [water.with_positions(water.positions * s) for s in (1.0, 1.04, 0.97)]
pod = dftgen.device.get("ipu-bow", n=2)
assert [d.id for d in pod.jax_devices] == [0, 1]
sharded = run_dft_batch(conformers, "qm1b", device=pod)
single = [run_dft(c, "qm1b", device=dftgen.device.get("ipu-bow")) for c in conformers]
for a, b in zip(sharded, single):
    assert abs(a.energy_ha - b.energy_ha) < 1e-6, (a.energy_ha, b.energy_ha)
    # orbital energies to 1e-6 Ha or two float32 ulps (the O 1s at -18.8 Ha: 4.5e-6)
    np.testing.assert_allclose(a.mo_energy, b.mo_energy, rtol=2.4e-7, atol=1e-6)
    assert a.device["device"] == "ipu-bow" and a.device["fits"]
assert len({{round(r.energy_ha, 6) for r in sharded}}) == 3  # three distinct conformers
print("pod ok", len(jax.devices()))
""".format(xyz=WATER_XYZ)

TOO_LATE_SCRIPT = """
import jax
jax.devices()
import dftgen.device
try:
    dftgen.device.configure_host_devices(4)
except dftgen.device.DeviceError as err:
    print("refused:", err)
"""


def _run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_pod_scf_results_equal_single_device_results():
    """run_dft_batch on a Pod of two emulated IPUs (the real `iterate`, sharded across them)
    against run_dft on one emulated IPU, float32: energies within 1e-6 Ha, orbital energies within
    1e-6 Ha or two float32 ulps."""
    assert "pod ok 2" in _run(POD_SCRIPT)


def test_configure_host_devices_after_jax_started_is_refused_clearly():
    out = _run(TOO_LATE_SCRIPT)
    assert "refused: JAX already started with 1 CPU device(s)" in out
    assert "configure_host_devices(4) before the first JAX computation" in out
