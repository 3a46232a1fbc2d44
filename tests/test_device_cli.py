"""`dftgen device list` and `dftgen device report` as registered by add_commands."""

import argparse
import json

from dftgen.device.commands import add_commands


def _run(capsys, *argv):
    parser = argparse.ArgumentParser(prog="dftgen")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_device_list(capsys):
    listed = json.loads(_run(capsys, "device", "list", "--json"))
    names = [d["name"] for d in listed]
    assert names == ["ipu-gc200", "ipu-bow", "cpu", "gpu"]
    bow = listed[1]
    assert bow["tiles"] == 1472 and bow["sram_bytes"] == 940_572_672 and not bow["float64"]
    assert "1472 tiles x 6 threads" in _run(capsys, "device", "list")


def test_device_report_refuses_an_oversize_molecule_with_its_reason(capsys):
    out = json.loads(_run(capsys, "device", "report", "--smiles", "CCCCCCCCCCCC", "--json"))
    assert out["fits"] is False and out["nao"] == 86
    assert out["limit_bytes"] == 940_572_672 and out["memory_bytes"] > out["limit_bytes"]
    assert out["tiles_used"] == 1472 and out["estimated_ms_per_conformer"] is None
    assert "primitive_eri" in out["reason"]
    text = _run(capsys, "device", "report", "--smiles", "CCCCCCCCCCCC")
    assert "fits" in text and "False" in text and "tile histogram" in text
