"""Spec files: TOML read into frozen dataclasses, one rule for every spec dftgen reads.

A spec file (a pipeline in pipelines/, a model in models/) is a TOML file of top-level keys
and [tables]; the whole file is a `<Thing>Spec` dataclass and each table a `<Table>Section`
dataclass of it. A [dft] table is always a preset and Settings overrides (`SettingsSection`).
Unknown keys, bad values, missing files and TOML syntax errors are one `SpecError` line
naming the file, the table and the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from pathlib import Path

from dftgen.presets import Settings, resolve

_SETTINGS_FIELDS = {f.name for f in dataclasses.fields(Settings)}


class SpecError(ValueError):
    """A spec that cannot be used: the message names the file, key and problem."""


def read_toml(path: str | os.PathLike, kind: str) -> tuple[dict, str]:
    """The tables of a TOML file, and the name errors give it: `kind` ("pipeline spec",
    "model spec") and the path."""
    where = f"{kind} {str(path)!r}"
    try:
        return tomllib.loads(Path(path).read_text()), where
    except FileNotFoundError:
        raise SpecError(f"{where} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{where}: {err}") from None


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
    hints = typing.get_type_hints(cls)
    for key, value in table.items():
        if not _matches(value, hints[key]):
            raise SpecError(f"{where}: [{name}] {key} must be {_describe(hints[key])}, got "
                            f"{value!r}")
    try:
        return cls(**{k: _frozen(v) for k, v in table.items()})
    except ValueError as err:  # the section's own checks, named with the file and table
        raise SpecError(f"{where}: [{name}] {err}") from None


@dataclasses.dataclass(frozen=True)
class SettingsSection:
    """A [dft] table: a preset of `dftgen.presets.PRESETS` and the Settings fields that
    replace its values, as sorted (name, value) pairs."""

    preset: str = "qm1b"
    overrides: tuple[tuple[str, object], ...] = ()

    @property
    def settings(self) -> Settings:
        return resolve(self.preset, **dict(self.overrides))

    def to_table(self) -> dict:
        """The table as written in a spec file: the preset and each override as a key."""
        return {"preset": self.preset, **dict(self.overrides)}


def settings_section(cls, table: dict, name: str, where: str):
    """The `cls` (a SettingsSection) of a [dft] table: keys naming Settings fields are its
    overrides, the others its own fields; a bad preset or value is a SpecError now."""
    if not isinstance(table, dict):
        raise SpecError(f"{where}: [{name}] must be a table")
    own = {k: v for k, v in table.items() if k not in _SETTINGS_FIELDS}
    overrides = tuple(sorted((k, v) for k, v in table.items() if k in _SETTINGS_FIELDS))
    result = section(cls, {**own, "overrides": overrides}, name, where)
    try:
        result.settings
    except ValueError as err:
        raise SpecError(f"{where}: [{name}] {err}") from None
    return result


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _matches(value, hint) -> bool:
    """Whether a TOML value fits a field's type (ints pass as floats, lists as tuples)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, h) for h in args)
    if hint is type(None):
        return value is None
    if hint is bool or hint is str:
        return isinstance(value, hint)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, h) for v, h in zip(value, args))
    return True  # object, Any and the like: the section validates it


def _describe(hint) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             type(None): "absent"}
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return "a list"
    return names.get(hint, str(hint))


def replace_sections(spec, **sections):
    """A copy of `spec` with fields of its sections replaced, a dict per section:
    `replace_sections(spec, training={"steps": 10})`; a non-dict value replaces the field."""
    changes = {name: dataclasses.replace(getattr(spec, name), **value) if isinstance(value, dict)
               else value for name, value in sections.items()}
    return dataclasses.replace(spec, **changes)
