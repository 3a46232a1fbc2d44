"""XLA:CPU code-generation flags dftgen adds to XLA_FLAGS before JAX's backend starts.

LLVM's x86 backend prefers 256-bit vectors even on CPUs with AVX-512 (a guard against the
clock drop of older Intel parts), and XLA:CPU keeps that preference unless told otherwise.
Every kernel dftgen runs on a CPU is elementwise or batched arithmetic over long arrays
(Boys function, Hermite recursions, AO values, XC sums), so full-width vectors pay
(`--xla_cpu_prefer_vector_width=512`; measured in benchmarks/results/tuning.md). Where the
CPU has no AVX-512 the flag changes nothing.

XLA reads XLA_FLAGS once, when the backend first starts (the first computation), so
`apply` is called on importing dftgen; a flag the user already set wins, and
DFTGEN_XLA_FLAGS=off leaves XLA_FLAGS alone.
"""

from __future__ import annotations

import os

FLAGS = ("--xla_cpu_prefer_vector_width=512",)
SWITCH = "DFTGEN_XLA_FLAGS"


def _name(flag: str) -> str:
    return flag.split("=")[0]


def chosen() -> tuple[str, ...]:
    """dftgen's flags as this process's environment decides them: none where switched off,
    and for each the user's own setting where XLA_FLAGS holds one."""
    if os.environ.get(SWITCH, "").lower() == "off":
        return ()
    user = {_name(word): word for word in os.environ.get("XLA_FLAGS", "").split()}
    return tuple(user.get(_name(flag), flag) for flag in FLAGS)


def with_flags(current: str) -> str:
    """`current` XLA_FLAGS with the `chosen` flags appended, except those it already sets
    (what worker processes get on top of their own flags)."""
    present = {_name(word) for word in current.split()}
    extra = [flag for flag in chosen() if _name(flag) not in present]
    return " ".join([current.strip(), *extra]).strip()


def apply() -> None:
    """Add the flags to this process's XLA_FLAGS (effective if no JAX computation ran yet)."""
    if chosen():
        os.environ["XLA_FLAGS"] = with_flags(os.environ.get("XLA_FLAGS", ""))
