"""Choosing the two-electron path from the command line: `--eri df` says in its JSON which path
it took, and a molecule whose exact ERIs would not fit in memory is refused in one line that
names the memory it needs, the memory there is, and `--eri df`; fitted ERIs beyond memory go
to a file, and a disk without room for it is named in one line."""

import json

from dftgen import xc
from dftgen.cli import main
from dftgen.presets import resolve
from dftgen.scf import problem


def test_run_eri_df_json_names_the_path_taken(tmp_path, water, capsys):
    path = tmp_path / "water.xyz"
    path.write_text(water.to_xyz())
    argv = ["run", "--xyz", str(path), "--preset", "accurate", "--eri", "df", "--grid-level", "0",
            "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["two_electron_method"] == "df" and out["auxbasis"] == "cc-pvdz-jkfit"
    assert out["energy_ha"] < -76.0


def test_exact_eris_too_large_for_memory_name_what_they_need_and_eri_df(monkeypatch, capsys):
    """Benzene at 6-31G* (nao 96): its packed ERIs take 0.08 GiB, refused with 0.125 GiB of
    memory (more than half), before any integral is computed."""
    monkeypatch.setattr(problem, "physical_memory", lambda: 2**27)
    assert main(["run", "--smiles", "c1ccccc1", "--preset", "accurate", "--eri", "exact"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "nao=96 needs 0.1 GiB for its exact ERIs" in err
    assert "this machine's 0.1 GiB" in err and "--eri df" in err


def test_fitted_eris_beyond_memory_go_to_a_file_and_its_disk_need_is_named(monkeypatch, capsys):
    """Benzene at 6-31G* with cc-pvdz-jkfit: B (naux npair float64 values, made in place) is
    all the memory counted for B3LYP in float64, one and a half B in float32. Past
    FITTED_ERI_BYTES it goes to a temporary file, and where the disk lacks the room, the
    one-line error names what it needs and where."""
    from collections import namedtuple

    from dftgen import Molecule, basis
    from dftgen.integrals import df

    mol = Molecule.from_smiles("c1ccccc1")
    naux = df.auxiliary_basis(mol, "6-31g*").nao
    nao = basis.build(mol, "6-31g*", "spherical").nao
    one_b = naux * nao * (nao + 1) // 2 * 8
    assert problem._fitted_tensors(xc.functional("b3lyp"), "float32") == 1.5
    monkeypatch.setattr(problem, "FITTED_ERI_BYTES", one_b)
    assert not problem.setup(mol, resolve("accurate", eri="df")).fitted_in_file
    assert problem.setup(mol, resolve("accurate", eri="df", precision="float32")).fitted_in_file
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(problem.shutil, "disk_usage", lambda path: usage(0, 0, one_b - 8))
    assert main(["run", "--smiles", "c1ccccc1", "--preset", "accurate", "--eri", "df",
                 "--precision", "float32"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"nao=96, naux={naux} needs {one_b / 2**30:.1f} GiB of disk for its density-fitted ERIs" in err
    assert "TMPDIR" in err
