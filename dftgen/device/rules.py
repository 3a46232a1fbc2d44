"""IPU-mode rules on a device program: float32 only, and static shapes compiled once each.

`float64_arrays` walks the program's jaxpr (sub-programs of loops and conditionals included)
and names every float64 value: inputs by their pytree path, intermediates by the operation
that makes them and the source line. `CompileCache` compiles each (program, static
arguments, argument shapes) once, as Poplar compiles one static graph per shape, and counts
compilations and their seconds.
"""

from __future__ import annotations

import time

import jax
import jax.extend.core as jax_core
import numpy as np
from jax._src import source_info_util

WIDE_DTYPES = (np.dtype("float64"), np.dtype("complex128"))


class DeviceError(RuntimeError):
    """A program or molecule breaks a rule of the emulated device; the message says which."""


def _sub_jaxprs(params: dict):
    for value in params.values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, jax_core.ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, jax_core.Jaxpr):
                yield item


def _wide(var) -> bool:
    dtype = getattr(getattr(var, "aval", None), "dtype", None)
    return dtype is not None and np.dtype(dtype) in WIDE_DTYPES


def _intermediates(jaxpr, seen: set) -> list[str]:
    found = []
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            if _wide(var):
                where = source_info_util.summarize(eqn.source_info)
                label = (f"{eqn.primitive.name} -> {var.aval.dtype}{list(var.aval.shape)} "
                         f"at {where}")
                if label not in seen:
                    seen.add(label)
                    found.append(label)
        for sub in _sub_jaxprs(eqn.params):
            found += _intermediates(sub, seen)
    return found


def float64_arrays(fn, *args, names: tuple[str, ...] | None = None, **static) -> list[str]:
    """Every float64 (or complex128) array of the program fn(*args, **static).

    Inputs are named by their pytree path under `names` (default arg0, arg1, ...), e.g.
    "inputs.eri"; intermediates as "<operation> -> float64[shape] at <file:line (function)>".
    """
    names = names or tuple(f"arg{i}" for i in range(len(args)))
    found = []
    for name, arg in zip(names, args):
        for path, leaf in jax.tree_util.tree_flatten_with_path(arg)[0]:
            dtype = getattr(leaf, "dtype", None)
            if dtype is not None and np.dtype(dtype) in WIDE_DTYPES:
                found.append(f"{name}{jax.tree_util.keystr(path)}: {np.dtype(dtype)}"
                             f"{list(np.shape(leaf))}")
    closed = jax.make_jaxpr(lambda *a: fn(*a, **static))(*args)
    return found + _intermediates(closed.jaxpr, set())


def require_float32(fn, *args, names: tuple[str, ...] | None = None, **static) -> None:
    """Raise DeviceError naming each float64 array of the program, if there is any."""
    wide = float64_arrays(fn, *args, names=names, **static)
    if wide:
        listed = "\n  ".join(wide[:20]) + ("\n  ..." if len(wide) > 20 else "")
        raise DeviceError(f"IPU mode computes in float32 only, but the device program has "
                          f"{len(wide)} float64 array(s):\n  {listed}")


def shape_key(tree) -> tuple:
    """(path, shape, dtype) of every leaf: what decides whether a compiled program fits."""
    return tuple((jax.tree_util.keystr(path), tuple(np.shape(leaf)), str(np.dtype(leaf.dtype)))
                 for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0])


class CompileCache:
    """Compiled programs by (name, static key, argument shapes), with counts and seconds."""

    def __init__(self):
        self._programs: dict[tuple, object] = {}
        self.compilations = 0
        self.hits = 0
        self.compile_seconds = 0.0

    def compile(self, name: str, jitted, *args, static_key=(), **static):
        """The compiled `jitted(*args, **static)` (a `jax.jit` function; static keyword
        arguments hashable); `static_key` adds what the shapes do not show (e.g. a basis
        layout captured in a closure). Call the result with the positional args only."""
        key = (name, static_key, tuple(sorted(static.items())), shape_key(args))
        if key in self._programs:
            self.hits += 1
            return self._programs[key]
        start = time.perf_counter()
        program = jitted.lower(*args, **static).compile()
        self.compile_seconds += time.perf_counter() - start
        self.compilations += 1
        self._programs[key] = program
        return program

    def stats(self) -> dict:
        return {"compilations": self.compilations, "hits": self.hits,
                "compile_seconds": self.compile_seconds, "programs": len(self._programs)}


COMPILE_CACHE = CompileCache()  # one per process: shapes repeat across molecules and devices
