"""A Pod of n emulated IPUs as n JAX host devices, with molecules sharded across them.

PySCF-IPU ran one molecule per IPU and scaled out by data parallelism. Here a batch's leading
axis is split over n devices with `jax.shard_map`, each device running the vmapped program on
its share, so the multi-device code path runs (and is tested) on one CPU.

JAX fixes the number of CPU host devices when its backend starts, so ask for them first:

    import dftgen.device
    dftgen.device.configure_host_devices(4)   # before any JAX computation
    pod = dftgen.device.get("ipu-bow", n=4)

(`XLA_FLAGS=--xla_force_host_platform_device_count=4` in the environment does the same.)
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from jax._src import xla_bridge
from jax.sharding import Mesh, PartitionSpec

from dftgen.device.rules import DeviceError

POD_AXIS = "ipu"


def configure_host_devices(n: int) -> None:
    """Make JAX start with at least n CPU devices. Must run before JAX's backend starts (the
    first array or computation); afterwards it only checks, raising DeviceError if too few."""
    if n < 1:
        raise ValueError(f"need at least one device, got n={n}")
    if xla_bridge.backends_are_initialized():
        have = len(jax.devices("cpu"))
        if have < n:
            raise DeviceError(
                f"JAX already started with {have} CPU device(s); {n} emulated IPUs need "
                f"dftgen.device.configure_host_devices({n}) before the first JAX computation, "
                f"or XLA_FLAGS=--xla_force_host_platform_device_count={n} in the environment")
        return
    jax.config.update("jax_num_cpu_devices", n)


@functools.lru_cache(maxsize=64)
def _sharded(fn, devices: tuple):
    mesh = Mesh(np.array(devices), (POD_AXIS,))
    spec = PartitionSpec(POD_AXIS)
    # no collectives, each device maps its own molecules: the varying-axis type check would
    # only reject the kernel's loops whose carries start from constants (zeros)
    return jax.jit(jax.shard_map(jax.vmap(fn), mesh=mesh, in_specs=spec, out_specs=spec,
                                 check_vma=False))


def map_batch(fn, stacked, devices):
    """fn over the leading axis of the pytree `stacked`, split evenly across `devices`.

    The batch is padded to a multiple of len(devices) with copies of its last entry (real
    data, so no NaN can arise in the padding) and the padding is dropped from the result.
    Pass the same fn object each time (not a fresh lambda or partial) to reuse its compiled
    program. Returns what jax.vmap(fn)(stacked) returns.
    """
    devices = tuple(devices)
    size = jax.tree.leaves(stacked)[0].shape[0]
    pad = -size % len(devices)
    if pad:
        stacked = jax.tree.map(lambda a: np.concatenate([a, np.repeat(a[-1:], pad, 0)]), stacked)
    out = _sharded(fn, devices)(stacked)
    return jax.tree.map(lambda a: a[:size], out)
