"""Pod emulation: n emulated IPUs as JAX host devices, molecules sharded across them.

JAX fixes its device count when it starts, so each check runs in a fresh interpreter."""

import subprocess
import sys
import textwrap

POD_SCRIPT = """
import dftgen.device
dftgen.device.configure_host_devices(4)
import jax, jax.numpy as jnp, numpy as np

def program(a):
    # what the SCF kernel does per molecule: a while loop around a symmetric eigensolver
    w, v = jnp.linalg.eigh(a @ a.T + jnp.eye(a.shape[0]))
    return jax.lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 0.5),
                              (0, v * w))[1]

pod = dftgen.device.get("ipu-bow", n=4)
assert [d.id for d in pod.jax_devices] == [0, 1, 2, 3]
batch = np.random.default_rng(0).normal(size=(6, 5, 5)).astype(np.float32)
sharded = np.asarray(pod.map_batch(program, batch))
single = np.stack([np.asarray(jax.jit(program)(m)) for m in batch])
assert sharded.shape == single.shape
np.testing.assert_allclose(sharded, single, rtol=0, atol=1e-6)
print("pod ok", len(jax.devices()))
"""

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


def test_pod_results_equal_single_device_results():
    assert "pod ok 4" in _run(POD_SCRIPT)


def test_configure_host_devices_after_jax_started_is_refused_clearly():
    out = _run(TOO_LATE_SCRIPT)
    assert "refused: JAX already started with 1 CPU device(s)" in out
    assert "configure_host_devices(4) before the first JAX computation" in out
