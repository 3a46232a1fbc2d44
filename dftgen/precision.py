"""Floating-point precision of the kernel: "float64" or "float32".

float64 needs JAX's x64 mode, switched on the first time it is asked for; float32 works
whether x64 is on or off, so a float32-only program (IPU mode) never depends on it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

PRECISIONS = ("float64", "float32")


def dtype(precision: str):
    """The JAX dtype of a precision name, enabling x64 when float64 is requested."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float64":
        enable_x64()
        return jnp.float64
    return jnp.float32


def enable_x64() -> None:
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)


def precision_name(dt) -> str:
    """The precision name of a floating dtype (the inverse of `dtype`)."""
    return "float64" if jnp.dtype(dt) == jnp.float64 else "float32"
