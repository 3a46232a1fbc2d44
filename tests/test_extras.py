"""The lean core: without the optional extras the CLI and the labelling pipeline still import
and build, and a command that needs a missing extra says which one, in one line."""

import subprocess
import sys

import pytest

from dftgen.cli import main
from dftgen.extras import MissingExtraError, require

OPTIONAL = ("torch", "schnetpack", "dask_jobqueue", "bokeh")


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails, find_spec says None
    with pytest.raises(MissingExtraError, match=r"pip install 'dftgen\[schnet\]'"):
        require("schnet", "training")
    assert main(["train", "schnet", "schnet-small", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dftgen[schnet]" in err and "torch" in err


def test_the_core_imports_nothing_optional():
    """A fresh interpreter in which the optional packages cannot be imported builds the whole
    CLI and imports the pipeline, data and kernel modules."""
    blocked = "".join(f"sys.modules[{name!r}] = None; " for name in OPTIONAL)
    code = (f"import sys; {blocked}"
            "import dftgen.pipeline.runner, dftgen.pipeline.tasks, dftgen.data.atoms_export, "
            "dftgen.ase, dftgen.device; from dftgen.cli import _build_parser; _build_parser(); "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
