"""glibc's allocator for XLA's buffers: the tunables are composed, applied on re-exec, optional."""

import os
import subprocess
import sys

import pytest

from dftgen import hugepages

SCRIPT = """
import os, sys
from dftgen import hugepages
hugepages.reexec(sys.argv)
print(os.environ.get("GLIBC_TUNABLES", ""))
"""


OURS = ":".join(hugepages.TUNABLES)


def test_tunables_are_added_once_to_existing_ones():
    assert hugepages.tunables("") == OURS
    combined = hugepages.tunables("glibc.malloc.trim_threshold=1")
    assert combined == f"glibc.malloc.trim_threshold=1:{OURS}"
    assert hugepages.tunables(combined) == combined


def test_a_tunable_the_user_set_is_kept():
    assert hugepages.tunables("glibc.malloc.arena_max=8") == (
        "glibc.malloc.arena_max=8:glibc.malloc.hugetlb=1")


def _run(tmp_path, **env):
    script = tmp_path / "show.py"
    script.write_text(SCRIPT)
    environ = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", hugepages.SWITCH)}
    out = subprocess.run([sys.executable, str(script)], env={**environ, **env}, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not hugepages.wanted(), reason="huge pages need glibc on Linux")
def test_reexec_starts_the_process_again_with_the_tunables(tmp_path):
    assert _run(tmp_path) == OURS
    assert _run(tmp_path, GLIBC_TUNABLES="glibc.malloc.trim_threshold=1") == (
        f"glibc.malloc.trim_threshold=1:{OURS}")
    assert hugepages.dask_config() == {
        "distributed.nanny.pre-spawn-environ.GLIBC_TUNABLES": hugepages.tunables()}


def test_switched_off_leaves_the_allocator_alone(tmp_path, monkeypatch):
    assert _run(tmp_path, DFTGEN_HUGEPAGES="off") == ""
    monkeypatch.setenv(hugepages.SWITCH, "off")
    assert hugepages.dask_config() == {}


COMMAND = """
import os, sys
with open(sys.argv[1], "a") as log:  # one line a start
    log.write("start\\n")
import dftgen
print(os.environ.get("GLIBC_TUNABLES", ""))
"""


@pytest.mark.skipif(not hugepages.wanted(), reason="huge pages need glibc on Linux")
@pytest.mark.parametrize("name, starts", [("dftgen", 2), ("other", 1)])
def test_import_restarts_only_the_dftgen_command(tmp_path, name, starts):
    """`import dftgen` restarts the `dftgen` console script with the tunables, before the
    package's own imports; any other program importing dftgen runs on untouched."""
    script, log = tmp_path / name, tmp_path / "starts"
    script.write_text(COMMAND)
    environ = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", hugepages.SWITCH)}
    out = subprocess.run([sys.executable, str(script), str(log)], env=environ,
                         capture_output=True, text=True, check=True)
    assert log.read_text().count("start") == starts
    assert out.stdout.strip() == (OURS if name == "dftgen" else "")
