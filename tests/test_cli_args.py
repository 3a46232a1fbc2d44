"""The shared command-line arguments: every sub-command that takes a molecule takes all of its
arguments, and --preset offers exactly the presets table."""

import argparse

import pytest

from dftgen.cli import _build_parser
from dftgen.presets import PRESETS

MOLECULE_COMMANDS = [("run",), ("integrals",), ("predict", "models/x"), ("device", "report")]


def _subparser(parser, path):
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("command", MOLECULE_COMMANDS)
def test_every_molecule_command_takes_charge_and_spin(command):
    args = _build_parser().parse_args([*command, "--xyz", "w.xyz", "--charge", "1", "--spin", "1"])
    assert (args.xyz, args.charge, args.spin) == ("w.xyz", 1, 1)


@pytest.mark.parametrize("path", [("run",), ("device", "report")])
def test_preset_choices_are_the_presets_table(path):
    parser = _subparser(_build_parser(), path)
    preset = next(a for a in parser._actions if a.dest == "preset")
    assert sorted(preset.choices) == sorted(PRESETS)
