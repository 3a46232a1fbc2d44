"""Sources (qm9pack, SMILES files, GDB-11 folders, CSV) and ingest (canonical SMILES,
deduplication, filters, failures with their stage)."""

import pytest

from dftgen.pipeline import sources
from dftgen.pipeline.ingest import ingest, molecule_id
from dftgen.pipeline.sources import RawSmiles, SourceError
from dftgen.pipeline.spec import FilterSection, SourceSection


def raw(*smiles):
    return [RawSmiles(i, s, f"test:{i + 1}") for i, s in enumerate(smiles)]


def test_qm9_source_reads_real_molecules_and_skips_by_heavy_atoms():
    first = [r.smiles for r, _ in zip(sources.read(SourceSection("qm9")), range(5))]
    assert first == ["C", "N", "O", "C#C", "C#N"]  # QM9's first entries
    small = list(sources.read(SourceSection("qm9"), heavy_atoms=(1, 2)))
    assert [r.smiles for r in small] == ["C", "N", "O", "C#C", "C#N", "C=O", "CC", "CO"]
    assert small[-1].origin == f"qm9:{small[-1].index}"


def test_smiles_file_skips_comments_blanks_and_trailing_fields(tmp_path):
    path = tmp_path / "in.smi"
    path.write_text("# header\nCCO ethanol\n\n  C\t17\nO\n")
    got = list(sources.read(SourceSection("smiles", str(path))))
    assert [(r.index, r.smiles, r.origin) for r in got] == [
        (0, "CCO", "in.smi:2"), (1, "C", "in.smi:4"), (2, "O", "in.smi:5")]


def test_gdb11_folder_reads_only_sizes_in_range(tmp_path):
    for size, smiles in [(1, "C"), (2, "CC"), (3, "CCC")]:
        (tmp_path / f"gdb11_size{size:02d}.smi").write_text(f"{smiles}\t{size}\n")
    got = [r.smiles for r in sources.read(SourceSection("gdb11", str(tmp_path)), heavy_atoms=(2, 3))]
    assert got == ["CC", "CCC"]
    with pytest.raises(SourceError, match="no gdb11_sizeNN.smi"):
        sources.read(SourceSection("gdb11", str(tmp_path)), heavy_atoms=(9, 11))


def test_csv_source_finds_the_column_case_insensitively(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("name,SMILES\nwater,O\nmethanol,CO\n")
    assert [r.smiles for r in sources.read(SourceSection("csv", str(path), column="smiles"))] == ["O", "CO"]
    with pytest.raises(SourceError, match="no column 'smi'"):
        list(sources.read(SourceSection("csv", str(path), column="smi")))


def test_missing_source_path_is_an_error():
    with pytest.raises(SourceError, match="does not exist"):
        sources.read(SourceSection("smiles", "/nonexistent/file.smi"))


def test_ingest_canonicalises_and_deduplicates():
    result = ingest(raw("OCC", "CCO", "C(O)C", "C"), FilterSection(heavy_atoms=(1, 9)))
    assert [m.smiles for m in result.molecules] == ["CCO", "C"]
    assert result.counts["duplicate"] == 2
    ethanol = result.molecules[0]
    assert ethanol.id == molecule_id("CCO")
    assert ethanol.numbers == (6, 6, 8, 1, 1, 1, 1, 1, 1)  # heavy atoms first, then H
    assert (ethanol.n_heavy, ethanol.n_hydrogens) == (3, 6)


def test_ingest_records_each_bad_molecule_with_its_stage():
    result = ingest(raw("CCO", "C1CC", "[Si](C)(C)C", "[NH4+]", "[CH3]", "O"),
                    FilterSection(heavy_atoms=(1, 9)))
    assert [m.smiles for m in result.molecules] == ["CCO", "O"]
    by_error = {f.error: f for f in result.failures}
    assert set(by_error) == {"SmilesError", "UnsupportedElement", "ChargedMolecule", "OpenShell"}
    assert by_error["SmilesError"].stage == "parse" and "test:2" in by_error["SmilesError"].message
    assert by_error["SmilesError"].smiles == "C1CC"
    assert by_error["UnsupportedElement"].stage == "ingest" and "Si" in by_error["UnsupportedElement"].message
    assert by_error["ChargedMolecule"].stage == "ingest"
    assert all(f.conformer == -1 and not f.retryable for f in result.failures)


def test_size_filters_are_counted_not_failures_and_limit_keeps_the_first():
    filt = FilterSection(heavy_atoms=(2, 3), max_hydrogens=6)
    result = ingest(raw("C", "CCC", "CC", "CO", "CCCC", "CC=O"), filt)
    assert [m.smiles for m in result.molecules] == ["CC", "CO", "CC=O"]  # CCC has 8 H
    assert result.counts["filtered_size"] == 3 and not result.failures
    limited = ingest(raw("C", "CCC", "CC", "CO", "CCCC", "CC=O"),
                     FilterSection(heavy_atoms=(2, 3), max_hydrogens=6, limit=2))
    assert [m.smiles for m in limited.molecules] == ["CC", "CO"]


def test_every_keeps_a_spread_sample_of_what_passes_then_the_limit():
    smiles = ("C", "CC", "CCC", "CO", "CCO", "CC=O", "CCCC", "OCCO")
    filt = FilterSection(heavy_atoms=(2, 3), max_hydrogens=8, every=2)
    result = ingest(raw(*smiles), filt)
    assert [m.smiles for m in result.molecules] == ["CC", "CO", "CC=O"]  # of CC CCC CO CCO CC=O
    assert result.counts["skipped_every"] == 2 and result.counts["filtered_size"] == 3
    limited = ingest(raw(*smiles), FilterSection(heavy_atoms=(2, 3), max_hydrogens=8, every=2, limit=2))
    assert [m.smiles for m in limited.molecules] == ["CC", "CO"]
