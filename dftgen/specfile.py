"""Spec files: TOML read into frozen dataclasses, one rule for every spec dftgen reads.

A spec file (a pipeline in pipelines/, a model in models/) is a TOML file of top-level keys
and [tables]; the whole file is a `<Thing>Spec` dataclass and each table a `<Table>Section`
dataclass of it. Unknown keys, missing files and TOML syntax errors are one `SpecError`
line naming the file, the table and the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path


class SpecError(ValueError):
    """A spec that cannot be used: the message names the file, key and problem."""


def read_toml(path: str | os.PathLike, kind: str) -> dict:
    """The tables of a TOML file; `kind` ("pipeline spec", "model spec") names it in errors."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{kind} {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{kind} {str(path)!r}: {err}") from None


def check_keys(given, known, where: str, table: str | None = None) -> None:
    """SpecError naming the keys of `given` that are not in `known`."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        place = f" in [{table}]" if table else ""
        raise SpecError(f"{where}: unknown key(s){place}: {unknown}; valid: {sorted(known)}")


def section(cls, table: dict, name: str, where: str):
    """The `cls` dataclass of one [name] table, its keys checked; lists become tuples, as the
    sections are frozen (hashable) dataclasses."""
    if not isinstance(table, dict):
        raise SpecError(f"{where}: [{name}] must be a table")
    check_keys(table, [f.name for f in dataclasses.fields(cls)], where, name)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


def replace_sections(spec, **sections):
    """A copy of `spec` with fields of its sections replaced, a dict per section:
    `replace_sections(spec, training={"steps": 10})`; a non-dict value replaces the field."""
    changes = {name: dataclasses.replace(getattr(spec, name), **value) if isinstance(value, dict)
               else value for name, value in sections.items()}
    return dataclasses.replace(spec, **changes)
