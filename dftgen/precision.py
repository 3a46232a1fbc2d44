"""Floating-point precision of the kernel: "float64" or "float32".

float64 needs JAX's x64 mode, switched on the first time it is asked for; float32 works
whether x64 is on or off, so a float32-only program (IPU mode) never depends on it.

`Float32Pair` carries a float64 array as two float32 arrays, for runs that iterate in
float32 and evaluate once in float64 (the qm1b preset).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dftgen import executables

PRECISIONS = ("float64", "float32")


def dtype(precision):
    """The JAX dtype of a precision: a name ("float64", "float32") or a floating dtype itself
    (what a kernel that follows its inputs' precision passes on); x64 is enabled for float64."""
    if not isinstance(precision, str):
        precision = jnp.dtype(precision).name
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float64":
        enable_x64()
        return jnp.float64
    return jnp.float32


def on_device(x, precision=None) -> jax.Array:
    """x as a JAX array in `precision` (default its own dtype): a host array (NumPy, Python)
    converted by NumPy and sent as it is, a JAX array (traced too) cast by JAX.
    `jnp.asarray` of a host array runs a small copy program compiled for each new shape, and
    a new shape's programs cost a fresh process tracing, lowering and loading them."""
    dt = None if precision is None else dtype(precision)
    if isinstance(x, jax.core.Tracer) or (isinstance(x, jax.Array) and dt in (None, x.dtype)):
        return jnp.asarray(x, dt)
    if isinstance(x, jax.Array):  # a stored program: JAX's own cast is traced in every process
        return _cast(x, jnp.dtype(dt).name)
    return jax.device_put(np.asarray(x, dt))


@executables.jit(static_argnums=1)
def _cast(x, name: str) -> jax.Array:
    return x.astype(name)


def enable_x64() -> None:
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


class Float32Pair(NamedTuple):
    """A float64 array x held as two float32 arrays, x = hi + lo: hi is x rounded to float32
    and lo the remainder rounded, together exact to 2^-48 relative (float64: 2^-53).

    A float32 run that evaluates once in float64 (the qm1b preset) needs its P supermatrix
    in both precisions: as a pair it takes the bytes of the float64 array alone, hi is the
    float32 array itself, and no float64 array of its size is made (P's blocks at nao 69:
    24 MB, written and read once more for every molecule).
    """

    hi: jax.Array
    lo: jax.Array

    def value(self) -> jax.Array:
        """hi + lo in float64."""
        return self.hi.astype(jnp.float64) + self.lo.astype(jnp.float64)


def remainder(x: jax.Array, hi: jax.Array) -> jax.Array:
    """lo of the Float32Pair of a float64 array x whose hi (x rounded to float32) is given:
    x - hi rounded. For a producer that recomputes x more cheaply than it writes x out in
    float64 (the P supermatrix's gathers): each half is then rounded in its own pass."""
    return (x - hi.astype(x.dtype)).astype(jnp.float32)
