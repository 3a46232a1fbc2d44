"""Choosing the two-electron path from the command line: `--eri df` says in its JSON which path
it took, and a molecule whose exact ERIs would not fit in memory is refused in one line that
names the memory it needs, the memory there is, and `--eri df`."""

import json

from dftgen import xc
from dftgen.cli import main
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


def test_fitted_eris_too_large_for_memory_name_what_they_need(monkeypatch, capsys):
    """Benzene at 6-31G* with cc-pvdz-jkfit: B (naux npair float64 values, made in place) is
    all the memory counted for B3LYP in float64, one and a half B in float32, and the
    error names it."""
    from dftgen import Molecule, basis
    from dftgen.integrals import df

    mol = Molecule.from_smiles("c1ccccc1")
    naux = df.auxiliary_basis(mol, "6-31g*").nao
    nao = basis.build(mol, "6-31g*", "spherical").nao
    one_b = naux * nao * (nao + 1) // 2 * 8
    monkeypatch.setattr(problem, "physical_memory", lambda: one_b * 2 - 8)  # half is below B
    argv = ["run", "--smiles", "c1ccccc1", "--preset", "accurate", "--eri", "df"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"nao=96, naux={naux} needs {one_b / 2**30:.1f} GiB for its density-fitted ERIs" in err
    assert problem._fitted_tensors(xc.functional("b3lyp"), "float32") == 1.5
