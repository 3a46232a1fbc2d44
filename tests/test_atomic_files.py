"""A file written through atomic_path appears whole or not at all."""

import pytest

from dftgen.atomic_files import atomic_path, write_text_atomically


def test_a_clean_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "plan.json"
    target.write_text("old")
    write_text_atomically(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "shard.h5"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("writer killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["shard.h5"]


def test_a_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        with atomic_path(tmp_path / "part.h5") as tmp:
            raise OSError(f"disk full writing {tmp}")
    assert list(tmp_path.iterdir()) == []
