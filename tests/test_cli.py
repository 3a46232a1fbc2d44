"""The `dftgen` command line: sub-commands, JSON keys with units, and errors that name the input."""

import json

import pytest

from dftgen import __version__
from dftgen.cli import main
from dftgen.elements import HARTREE_EV


def test_version_and_help_list_the_sub_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("run", "integrals", "generate", "status", "export", "train", "evaluate",
                    "predict", "compare", "device"):
        assert command in out


def test_run_json_keys_carry_units(tmp_path, water, capsys):
    path = tmp_path / "water.xyz"
    path.write_text(water.to_xyz())
    assert main(["run", "--xyz", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("energy_ha", "homo_ha", "lumo_ha", "gap_ev", "converged", "iterations", "nao",
                "forces_ha_bohr", "dipole_debye"):
        assert key in out
    assert out["nao"] == 7 and out["iterations"] == 20 and out["forces_ha_bohr"] is None
    assert out["gap_ev"] == pytest.approx((out["lumo_ha"] - out["homo_ha"]) * HARTREE_EV)


def test_integrals_summary(capsys):
    assert main(["integrals", "--smiles", "O", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nao"] == 7 and out["trace_overlap"] == pytest.approx(7.0)


@pytest.mark.parametrize("argv, message", [
    (["run", "--smiles", "C1CC(("], "SMILES 'C1CC((': RDKit cannot parse"),
    (["run", "--smiles", "[CH3]"], "closed shell"),
    (["run", "--xyz", "no_such.xyz"], "xyz file 'no_such.xyz' does not exist"),
    (["integrals", "--smiles", "O", "--basis", "no-such-basis"], "unknown basis set 'no-such-basis'"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
