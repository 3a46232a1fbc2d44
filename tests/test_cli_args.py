"""The shared command-line arguments: every sub-command that takes a molecule takes all of its
arguments, --preset offers exactly the presets table, and no sub-command module imports the
`dftgen` entry point (`dftgen.cli` imports them)."""

import argparse
import ast
from pathlib import Path

import pytest

from dftgen.cli import _build_parser
from dftgen.presets import PRESETS

PACKAGE = Path(__file__).resolve().parents[1] / "dftgen"


def _commands(parser, path=()):
    """(path, parser) of every sub-command, however deep."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def _taking(*options):
    """The sub-commands with any of `options`, as {path: parser}."""
    return {path: p for path, p in _commands(_build_parser())
            if any(o in p._option_string_actions for o in options)}


def _positionals(parser):
    """Placeholder values for a sub-command's own positional arguments (e.g. predict's MODEL)."""
    return ["x" for a in parser._actions if not a.option_strings and
            not isinstance(a, argparse._SubParsersAction)]


MOLECULE_COMMANDS = _taking("--smiles", "--xyz")
PRESET_COMMANDS = _taking("--preset")


def test_the_molecule_and_preset_commands_are_found():
    assert {("run",), ("integrals",), ("predict",), ("device", "report")} <= set(MOLECULE_COMMANDS)
    assert {("run",), ("device", "report")} <= set(PRESET_COMMANDS)


@pytest.mark.parametrize("path", sorted(MOLECULE_COMMANDS), ids=" ".join)
def test_every_molecule_command_takes_all_molecule_arguments(path):
    given = [*path, *_positionals(MOLECULE_COMMANDS[path])]
    args = _build_parser().parse_args([*given, "--xyz", "w.xyz", "--charge", "1", "--spin", "1"])
    assert (args.xyz, args.charge, args.spin) == ("w.xyz", 1, 1)
    args = _build_parser().parse_args([*given, "--smiles", "O", "--seed", "3"])
    assert (args.smiles, args.seed) == ("O", 3)


@pytest.mark.parametrize("path", sorted(PRESET_COMMANDS), ids=" ".join)
def test_preset_choices_are_the_presets_table(path):
    assert sorted(PRESET_COMMANDS[path]._option_string_actions["--preset"].choices) == sorted(PRESETS)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update([node.module, *(f"{node.module}.{a.name}" for a in node.names)])
    return found


def test_no_module_imports_the_entry_point():
    importers = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
                 if "dftgen.cli" in _imports(p)]
    assert importers == []
